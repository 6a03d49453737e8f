"""datatrove's GopherRepetitionFilter and GopherQualityFilter, transcribed, with
filter's word splitter in place of NLTK's (filter/README.md says why). Reads
JSON Lines on stdin, prints "id<TAB>reason" for each document ("keep" when it
passes), for tests/filter/test_ref.sh to compare with bin/filter. Standard
library only.

With --values, stdin is `filter stats -o` output instead: each document's
"filter_stats" must hold, for every Gopher rule, exactly the value the same
code computes before comparing it with the threshold (values(), below: the
expressions of repetition() and quality() taken out of their ifs), and
"filter_reason" the reason above. Prints each difference and a count line."""
import json
import re
import sys
import unicodedata
from collections import Counter

SPACE, PUNCT, ALPHA = 1, 2, 4


def cls(ch):
    if ch.isspace():
        return SPACE
    cat = unicodedata.category(ch)
    if cat[0] == "L":
        return ALPHA
    if cat[0] in "PSC":
        return PUNCT
    return 0


def puncts(s):
    out, i = [], 0
    while i < len(s):
        n = 3 if s.startswith("...", i) else 1
        out.append(s[i:i + n])
        i += n
    return out


def split_into_words(text):
    words = []
    for chunk in text.split():
        kinds = [cls(c) for c in chunk]
        np = [i for i, k in enumerate(kinds) if not k & PUNCT]
        if not np:
            words += puncts(chunk)
            continue
        p, q = np[0], np[-1] + 1
        words += puncts(chunk[:p]) + [chunk[p:q]] + puncts(chunk[q:])
    return words


def is_symbol_only(w):
    return all(cls(c) & PUNCT for c in w)


# ---- datatrove's gopher_repetition_filter.py
def get_n_grams(words, n):
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


def find_duplicates(x):
    unique_x, duplicate_chars, duplicate_elements = set(), 0, 0
    for element in x:
        if element in unique_x:
            duplicate_chars += len(element)
            duplicate_elements += 1
        else:
            unique_x.add(element)
    return duplicate_elements, duplicate_chars


def find_top_duplicate(x):
    counter = Counter()
    for element in x:
        counter[element] += 1
    top_n_gram = counter.most_common(1)[0]
    return len(top_n_gram[0]) * top_n_gram[1]


def find_all_duplicate(words, n):
    n_words, unique, repeated_chars, idx = len(words), set(), 0, 0
    while idx < n_words - n + 1:
        n_gram = "".join(words[idx:idx + n])
        if n_gram in unique:
            repeated_chars += len(n_gram)
            idx += n
        else:
            unique.add(n_gram)
            idx += 1
    return repeated_chars


def repetition(text):
    paragraphs = re.split(r"\n{2,}", text.strip())
    d, c = find_duplicates(paragraphs)
    if d / len(paragraphs) > 0.3:
        return "dup_para_frac"
    if c / len(text) > 0.2:
        return "dup_para_char_frac"
    lines = re.split("\n+", text)
    d, c = find_duplicates(lines)
    if d / len(lines) > 0.3:
        return "dup_line_frac"
    if c / len(text) > 0.2:
        return "dup_line_char_frac"
    words = split_into_words(text)
    for n, frac in ((2, 0.2), (3, 0.18), (4, 0.16)):
        n_grams = get_n_grams(words, n)
        if not n_grams:
            continue
        if find_top_duplicate(n_grams) / len(text) > frac:
            return f"top_{n}_gram"
    for n, frac in ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)):
        if find_all_duplicate(words, n) / len(text) > frac:
            return f"dup_{n}_gram"
    return None


# ---- datatrove's gopher_quality_filter.py
STOP_WORDS = {"the", "be", "to", "of", "and", "that", "have", "with"}


def quality(text):
    words = split_into_words(text)
    n_words = len(words)
    non_symbol_words = [w for w in words if not is_symbol_only(w)]
    n_non_symbol_words = len(non_symbol_words)
    if n_non_symbol_words < 50:
        return "gopher_min_words"
    if n_non_symbol_words > 100000:
        return "gopher_max_words"
    avg = sum(len(w) for w in non_symbol_words) / n_non_symbol_words
    if avg < 3:
        return "gopher_min_mean_word"
    if avg > 10:
        return "gopher_max_mean_word"
    if text.count("#") / n_words > 0.1:
        return "gopher_hash_ratio"
    if (text.count("...") + text.count("\u2026")) / n_words > 0.1:
        return "gopher_ellipsis_ratio"
    lines = text.splitlines()
    if sum(s.lstrip().startswith("\u2022") or s.lstrip().startswith("-") for s in lines) / len(lines) > 0.9:
        return "gopher_bullet_lines"
    if sum(s.rstrip().endswith("...") or s.rstrip().endswith("\u2026") for s in lines) / len(lines) > 0.3:
        return "gopher_ellipsis_lines"
    if sum(any(cls(c) & ALPHA for c in w) for w in words) / n_words < 0.8:
        return "gopher_alpha_words"
    if sum(w in STOP_WORDS for w in words) < 2:
        return "gopher_stop_words"
    return None


def values(text):
    """Every Gopher rule's value; a rule with nothing to measure is left out
    (filter writes null): datatrove divides by zero or takes a mean of nothing
    there, or, for a top n-gram of a text shorter than n words, skips the rule,
    where filter measures 0."""
    v = {}
    if not text:
        return v
    paragraphs = re.split(r"\n{2,}", text.strip())
    d, c = find_duplicates(paragraphs)
    v["dup_para_frac"], v["dup_para_char_frac"] = d / len(paragraphs), c / len(text)
    lines = re.split("\n+", text)
    d, c = find_duplicates(lines)
    v["dup_line_frac"], v["dup_line_char_frac"] = d / len(lines), c / len(text)
    words = split_into_words(text)
    for n in (2, 3, 4):
        n_grams = get_n_grams(words, n)
        v[f"top_{n}_gram"] = find_top_duplicate(n_grams) / len(text) if n_grams else 0
    for n in range(5, 11):
        v[f"dup_{n}_gram"] = find_all_duplicate(words, n) / len(text)
    n_words = len(words)
    non_symbol_words = [w for w in words if not is_symbol_only(w)]
    v["gopher_min_words"] = v["gopher_max_words"] = len(non_symbol_words)
    if non_symbol_words:
        avg = sum(len(w) for w in non_symbol_words) / len(non_symbol_words)
        v["gopher_min_mean_word"] = v["gopher_max_mean_word"] = avg
    if n_words:
        v["gopher_hash_ratio"] = text.count("#") / n_words
        v["gopher_ellipsis_ratio"] = (text.count("...") + text.count("\u2026")) / n_words
    lines = text.splitlines()
    if lines:
        v["gopher_bullet_lines"] = sum(s.lstrip().startswith("\u2022") or s.lstrip().startswith("-")
                                       for s in lines) / len(lines)
        v["gopher_ellipsis_lines"] = sum(s.rstrip().endswith("...") or s.rstrip().endswith("\u2026")
                                         for s in lines) / len(lines)
    if n_words:
        v["gopher_alpha_words"] = sum(any(cls(c) & ALPHA for c in w) for w in words) / n_words
    v["gopher_stop_words"] = sum(w in STOP_WORDS for w in words)
    return v


GOPHER = ["dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac", "top_2_gram",
          "top_3_gram", "top_4_gram"] + [f"dup_{n}_gram" for n in range(5, 11)] + [
          "gopher_min_words", "gopher_max_words", "gopher_min_mean_word", "gopher_max_mean_word",
          "gopher_hash_ratio", "gopher_ellipsis_ratio", "gopher_bullet_lines", "gopher_ellipsis_lines",
          "gopher_alpha_words", "gopher_stop_words"]

if sys.argv[1:] == ["--values"]:
    n_docs = n_values = n_diff = 0
    for line in sys.stdin:
        d = json.loads(line)
        t, ours = d["text"], d["filter_stats"]
        ref = values(t)
        n_docs += 1
        for k in GOPHER:
            n_values += 1
            if ours.get(k, "missing") != ref.get(k):  # exact: the same double, or both null
                n_diff += 1
                print(f"{d.get('id')}: {k}: filter {ours.get(k, 'missing')}, reference {ref.get(k)}")
        reason = repetition(t) or quality(t)
        if d.get("filter_reason") != reason:
            n_diff += 1
            print(f"{d.get('id')}: filter_reason: filter {d.get('filter_reason')}, reference {reason}")
    print(f"{n_docs} documents, {n_values} values, {n_diff} differ")
    sys.exit(0)

for line in sys.stdin:
    d = json.loads(line)
    t = d["text"]
    print(f"{d['id']}\t{repetition(t) or quality(t) or 'keep'}")
