# gen.awk: prints A, B, C as JSON lines: B = N pseudo-random words, A = B with the
# first K words replaced, C = B with the last K replaced. Deterministic (own LCG).
function rnd() { s = (s * 1103515245 + 12345) % 2147483648; return s }
function word(   w, l, i) { l = 3 + rnd() % 6; w = ""; for (i = 0; i < l; i++) w = w substr("abcdefghijklmnopqrstuvwxyz", 1 + rnd() % 26, 1); return w }
BEGIN {
    s = seed
    for (i = 0; i < n; i++) b[i] = word()
    for (i = 0; i < n; i++) { a[i] = b[i]; c[i] = b[i] }
    for (i = 0; i < k; i++) { a[i] = word(); c[n - 1 - i] = word() }
    line("A", a); line("B", b); line("C", c)
}
function line(name, arr,   t, i) { t = arr[0]; for (i = 1; i < n; i++) t = t " " arr[i]; printf "{\"text\":\"%s\",\"id\":\"%s\"}\n", t, name }
