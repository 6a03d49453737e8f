# pairs.awk: prints n pairs of JSON lines, first every "P<i>", then every
# "Q<i>": P<i> is 200 pseudo-random words, Q<i> is P<i> with 4 or 5 words (by
# turns) replaced, so the true Jaccard of their 5-word shingle sets lands around
# 0.8, on either side; each Q carries it as "truth_j", counted here on the
# strings. Deterministic (own LCG, whose products stay under 2^53, where awk's
# doubles are exact): -v seed=S -v n=N.
function rnd() { s = (s * 16807) % 2147483647; return s } # Park-Miller: exact in awk's doubles
function word(   w, i) { w = "w"; for (i = 0; i < 6; i++) w = w substr("abcdefghijklmnopqrstuvwxyz", 1 + rnd() % 26, 1); return w }
function jaccard(a, b,   i, sa, sb, k, same, na, nb) {
    for (i = 1; i <= 196; i++) {
        sa[a[i] " " a[i+1] " " a[i+2] " " a[i+3] " " a[i+4]] = 1
        sb[b[i] " " b[i+1] " " b[i+2] " " b[i+3] " " b[i+4]] = 1
    }
    for (k in sa) { na++; if (k in sb) same++ }
    for (k in sb) nb++
    return same / (na + nb - same)
}
function text(arr,   t, i) { t = arr[1]; for (i = 2; i <= 200; i++) t = t " " arr[i]; return t }
BEGIN {
    s = seed + 1
    for (p = 1; p <= n; p++) {
        split("", a); split("", b)
        for (i = 1; i <= 200; i++) { a[i] = word(); b[i] = a[i] }
        for (k = 0; k < 4 + p % 2; k++) b[1 + rnd() % 200] = word()
        pl[p] = sprintf("{\"text\":\"%s\",\"id\":\"P%d\"}", text(a), p)
        ql[p] = sprintf("{\"text\":\"%s\",\"id\":\"Q%d\",\"truth_j\":%.4f}", text(b), p, jaccard(a, b))
    }
    for (p = 1; p <= n; p++) print pl[p]
    for (p = 1; p <= n; p++) print ql[p]
}
