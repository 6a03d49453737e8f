/* Hugging Face tokenizer.json through jansson: loading byte-level BPE (the
 * model's vocab and merges, added tokens as specials, the pre-tokenizers we
 * can mirror) and saving one that HF tokenizers loads. Whatever else a file
 * holds is refused with the entry named. */
#include "tokenizer.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "iofile.h"
#include "tok_internal.h"

typedef struct VocabEnt {
    uint32_t id;
    int kind;
    const char *key; /* from the JSON tree */
    size_t key_len;
    int from_added;  /* the text is the token's bytes as is (not byte-level) */
} VocabEnt;

static int cmp_ent(const void *x, const void *y)
{
    const VocabEnt *a = x, *b = y;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return b->from_added - a->from_added; /* the added_tokens entry first */
}

/* tok_set_regex, its error (a pattern that does not compile) said with the
 * file and the entry, where: "pre_tokenizer" or "pre_tokenizer.pretokenizers[0]". */
static int set_regex(Tokenizer *t, const char *re, const char *path, const char *where, Err *e)
{
    if (!tok_set_regex(t, re, e)) return 0;
    Err inner = *e;
    return err_set(e, "%s: %s.pattern: %s", err_name(path), where, inner.msg);
}

/* The pattern of a pre_tokenizer we can mirror: ByteLevel (its own GPT-2
 * regex unless use_regex is false), a Split on a regex with behavior Isolated,
 * or a Sequence of a Split and a ByteLevel without regex. where: its place
 * in the file, for messages. */
static int parse_pretok(Tokenizer *t, json_t *pt, const char *path, const char *where, Err *e)
{
    if (!pt || json_is_null(pt)) return tok_set_regex(t, NULL, e);
    const char *type = json_string_value(json_object_get(pt, "type"));
    if (!type) return err_set(e, "%s: pre_tokenizer has no \"type\"", err_name(path));
    if (!strcmp(type, "ByteLevel")) {
        t->add_prefix_space = json_is_true(json_object_get(pt, "add_prefix_space"));
        json_t *ur = json_object_get(pt, "use_regex");
        return set_regex(t, (ur && json_is_false(ur)) ? NULL : pretok_builtin("gpt2"), path, where, e);
    }
    if (!strcmp(type, "Split")) {
        const char *beh = json_string_value(json_object_get(pt, "behavior"));
        json_t *pat = json_object_get(pt, "pattern");
        const char *re = json_string_value(json_object_get(pat, "Regex"));
        const char *lit = json_string_value(json_object_get(pat, "String"));
        if (!beh || strcmp(beh, "Isolated") || json_is_true(json_object_get(pt, "invert")))
            return err_set(e, "%s: pre_tokenizer Split: only behavior \"Isolated\" without invert is supported",
                           err_name(path));
        if (re) return set_regex(t, re, path, where, e);
        if (lit) { /* a literal: quote it for PCRE2 */
            Buf q = { 0 };
            int rc = buf_append(&q, "\\Q", 2) || buf_append(&q, lit, strlen(lit)) ||
                     buf_append(&q, "\\E", 3);
            rc = rc ? err_set(e, "out of memory") : set_regex(t, q.data, path, where, e);
            buf_free(&q);
            return rc;
        }
        return err_set(e, "%s: pre_tokenizer Split has no pattern Regex or String", err_name(path));
    }
    if (!strcmp(type, "Sequence")) {
        json_t *list = json_object_get(pt, "pretokenizers");
        size_t n = json_array_size(list);
        int have_split = 0;
        for (size_t i = 0; i < n; i++) {
            json_t *p = json_array_get(list, i);
            const char *ty = json_string_value(json_object_get(p, "type"));
            if (ty && !strcmp(ty, "ByteLevel")) {
                json_t *ur = json_object_get(p, "use_regex");
                if (have_split && !(ur && json_is_false(ur)))
                    return err_set(e, "%s: pre_tokenizer: a ByteLevel with its own regex after a "
                                      "Split is not supported", err_name(path));
                if (json_is_true(json_object_get(p, "add_prefix_space")))
                    return err_set(e, "%s: pre_tokenizer: add_prefix_space inside a Sequence is "
                                      "not supported", err_name(path));
                if (!have_split && !(ur && json_is_false(ur))) {
                    if (tok_set_regex(t, pretok_builtin("gpt2"), e)) return -1;
                    have_split = 1;
                }
            } else if (ty && !strcmp(ty, "Split") && !have_split) {
                char at[64];
                snprintf(at, sizeof at, "pre_tokenizer.pretokenizers[%zu]", i);
                if (parse_pretok(t, p, path, at, e)) return -1;
                have_split = 1;
            } else {
                return err_set(e, "%s: pre_tokenizer.pretokenizers[%zu]: \"%s\" is not supported "
                                  "(one Split and a ByteLevel are)", err_name(path), i, ty ? ty : "?");
            }
        }
        return 0;
    }
    return err_set(e, "%s: pre_tokenizer \"%s\" is not supported (ByteLevel, Split, Sequence are)",
                   err_name(path), type);
}

Tokenizer *tok_load_json(const char *path, Err *e)
{
    Tokenizer *t = NULL;
    int t_ignore_merges = 0;
    VocabEnt *ents = NULL;
    Buf text = { 0 }, tmp = { 0 };
    json_t *root = NULL;
    InFile *in = in_open(path, 1, e);
    if (!in) return NULL;
    if (in_slurp(in, &text, e)) goto fail;
    json_error_t je;
    if (!(root = json_loadb(text.data ? text.data : "", text.len, JSON_REJECT_DUPLICATES, &je))) {
        err_at(e, path, (uint64_t)(je.line > 0 ? je.line : 1), "not a tokenizer.json: %s", je.text);
        goto fail;
    }
    json_t *model = json_object_get(root, "model");
    const char *mtype = json_string_value(json_object_get(model, "type"));
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    if (!json_is_object(model) || (mtype && strcmp(mtype, "BPE")) || !json_is_object(vocab) ||
        !json_is_array(merges)) {
        err_set(e, "%s: not a BPE tokenizer.json (expected model.type \"BPE\" with vocab and merges)",
                err_name(path));
        goto fail;
    }
    static const char *const unsupported[] = { "continuing_subword_prefix", "end_of_word_suffix" };
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(model, unsupported[i]);
        if (v && !json_is_null(v) && !(json_is_string(v) && !*json_string_value(v))) {
            err_set(e, "%s: model.%s is not supported (byte-level BPE has none)", err_name(path),
                    unsupported[i]);
            goto fail;
        }
    }
    t_ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm)) {
        const char *ntype = json_string_value(json_object_get(norm, "type"));
        err_set(e, "%s: normalizer %s is not supported (byte-level BPE needs none)", err_name(path),
                ntype ? ntype : "?");
        goto fail;
    }
    json_t *added = json_object_get(root, "added_tokens");
    size_t n_added = json_array_size(added), n_ents = json_object_size(vocab) + n_added, k = 0;
    if (!(ents = calloc(n_ents ? n_ents : 1, sizeof *ents))) {
        err_set(e, "out of memory");
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        json_int_t id = json_integer_value(val);
        if (!json_is_integer(val) || id < 0 || id >= 0x7fffffff) {
            err_set(e, "%s: model.vocab[\"%.100s\"]: id is not an integer in 0..2^31", err_name(path), key);
            goto fail;
        }
        ents[k++] = (VocabEnt){ (uint32_t)id, TOK_NORMAL, key, strlen(key), 0 };
    }
    for (size_t i = 0; i < n_added; i++) {
        json_t *a = json_array_get(added, i);
        json_t *jid = json_object_get(a, "id");
        const char *content = json_string_value(json_object_get(a, "content"));
        json_int_t id = json_integer_value(jid);
        if (!json_is_integer(jid) || id < 0 || id >= 0x7fffffff || !content || !*content) {
            err_set(e, "%s: added_tokens[%zu]: needs an integer \"id\" and a non-empty \"content\"",
                    err_name(path), i);
            goto fail;
        }
        ents[k++] = (VocabEnt){ (uint32_t)id, TOK_SPECIAL, content, strlen(content), 1 };
    }
    qsort(ents, k, sizeof *ents, cmp_ent);
    /* ids without a token in between are taken, but not so many that the
     * tables of every id up to the largest dwarf the tokens themselves: the
     * vocab's ids mostly used, the added tokens' at most 2^20 past them (a
     * rank file cut short keeps its specials' ids: o200k's 200018) */
    uint32_t top = 0, n_vocab_ents = 0;
    for (size_t i = 0; i < k; i++) /* (an added token's copy in the vocab counts as added) */
        if (!ents[i].from_added && !(i && ents[i - 1].id == ents[i].id && ents[i - 1].from_added)) {
            n_vocab_ents++;
            if (ents[i].id > top) top = ents[i].id;
        }
    if (n_vocab_ents && top >= 2 * (uint64_t)n_vocab_ents + 1024) {
        err_set(e, "%s: model.vocab's ids run to %u but it has %u tokens: most ids would hold no token (a "
                   "damaged file?)", err_name(path), top, n_vocab_ents);
        goto fail;
    }
    if (k && ents[k - 1].id > (uint64_t)top + (1u << 20)) {
        err_set(e, "%s: added token \"%.100s\" has id %u, more than 2^20 past the vocab's last (%u) (a damaged "
                   "file?)", err_name(path), ents[k - 1].key, ents[k - 1].id, top);
        goto fail;
    }
    if (!(t = tok_alloc(e))) goto fail;
    for (size_t i = 0; i < k; i++) {
        const VocabEnt *v = &ents[i];
        if (i && v->id == ents[i - 1].id) {
            /* An added token may also sit in the vocab (HF's GPT-2 does that):
             * then its vocab key must be the same text. */
            if (ents[i - 1].from_added && !v->from_added) {
                tmp.len = 0;
                if (!tok_from_bytelevel(v->key, v->key_len, &tmp) && tmp.len == ents[i - 1].key_len &&
                    !memcmp(tmp.data, ents[i - 1].key, tmp.len))
                    continue;
                if (v->key_len == ents[i - 1].key_len && !memcmp(v->key, ents[i - 1].key, v->key_len))
                    continue;
            }
            err_set(e, "%s: id %u is given to two tokens (\"%.100s\" and \"%.100s\")", err_name(path),
                    v->id, ents[i - 1].key, v->key);
            goto fail;
        }
        if (v->from_added) {
            if (tok_set_token(t, v->id, v->key, v->key_len, TOK_SPECIAL, e)) goto fail;
            continue;
        }
        tmp.len = 0;
        if (tok_from_bytelevel(v->key, v->key_len, &tmp) || !tmp.len) {
            err_set(e, "%s: model.vocab[\"%.100s\"]: not byte-level text (a GPT-2 style "
                       "tokenizer.json maps every byte to a printable character)",
                    err_name(path), v->key);
            goto fail;
        }
        if (tok_set_token(t, v->id, tmp.data, tmp.len, TOK_NORMAL, e)) goto fail;
    }
    for (size_t i = 0; i < n_added; i++) { /* in the file's order */
        json_int_t id = json_integer_value(json_object_get(json_array_get(added, i), "id"));
        if (tok_add_special_id(t, (uint32_t)id, e)) goto fail;
    }
    size_t n_merges = json_array_size(merges);
    t->merges_cap = (uint32_t)(n_merges ? n_merges : 1);
    if (!(t->merges = malloc(t->merges_cap * sizeof *t->merges))) {
        err_set(e, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n_merges; i++) {
        json_t *m = json_array_get(merges, i);
        const char *a = NULL, *b = NULL;
        char *split = NULL;
        if (json_is_string(m)) {
            const char *s = json_string_value(m), *spc = strchr(s, ' ');
            if (spc && !strchr(spc + 1, ' ') && (split = strdup(s))) {
                split[spc - s] = 0;
                a = split;
                b = split + (spc - s) + 1;
            }
        } else if (json_array_size(m) == 2) {
            a = json_string_value(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
        }
        json_t *ja = a ? json_object_get(vocab, a) : NULL, *jb = b ? json_object_get(vocab, b) : NULL;
        if (!a || !b) {
            free(split);
            err_set(e, "%s: model.merges[%zu]: expected \"A B\" or [\"A\", \"B\"]", err_name(path), i);
            goto fail;
        }
        if (!ja || !jb) {
            err_set(e, "%s: model.merges[%zu]: \"%.100s\" is not in the vocab", err_name(path), i,
                    ja ? b : a);
            free(split);
            goto fail;
        }
        free(split);
        t->merges[t->n_merges++] =
            (TokPair){ (uint32_t)json_integer_value(ja), (uint32_t)json_integer_value(jb) };
    }
    t->ignore_merges = t_ignore_merges;
    if (parse_pretok(t, json_object_get(root, "pre_tokenizer"), path, "pre_tokenizer", e)) goto fail;
    if (tok_finish(t, e)) {
        Err inner = *e;
        err_set(e, "%s: %s", err_name(path), inner.msg);
        goto fail;
    }
    json_decref(root);
    free(ents);
    buf_free(&text);
    buf_free(&tmp);
    in_close(in);
    return t;
fail:
    json_decref(root);
    free(ents);
    buf_free(&text);
    buf_free(&tmp);
    in_close(in);
    tok_free(t);
    return NULL;
}

/* Byte-level key of token id (specials as their text), as a jansson string. */
static json_t *token_key(const Tokenizer *t, uint32_t id, Buf *tmp)
{
    size_t len;
    const char *p = tok_bytes(t, id, &len);
    if (t->kind[id] == TOK_SPECIAL) return json_stringn(p, len);
    tmp->len = 0;
    if (tok_bytelevel(p, len, tmp)) return NULL;
    return json_stringn(tmp->data, tmp->len);
}

/* 1 when special id's text is also the byte-level key of a normal token (an
 * added token "mill" beside the vocabulary's "mill" under another id). The
 * vocab object holds a key once: written twice, the special's id replaced the
 * token's, and the file no longer loaded. So the key keeps the normal token's
 * id and the special is in added_tokens only, which tok_load_json reads back
 * as it was. (HF's tokenizers gives such an added token the vocab's id, with
 * a warning, as it does reading the file this came from.) */
static int special_key_taken(const Tokenizer *t, uint32_t id, Buf *tmp)
{
    size_t len;
    const char *p = tok_bytes(t, id, &len);
    tmp->len = 0;
    return !tok_from_bytelevel(p, len, tmp) && tmp->len && tok_lookup(t, tmp->data, tmp->len) >= 0;
}

int tok_save_json(Tokenizer *t, const char *path, Err *e)
{
    if (tok_recover_merges(t, e)) return -1;
    Buf tmp = { 0 }, joined = { 0 };
    int rc = -1;
    json_t *root = json_object(), *vocab = json_object(), *merges = json_array(),
           *added = json_array();
    if (!root || !vocab || !merges || !added) goto oom;
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        if (t->kind[id] == TOK_NONE || (t->kind[id] == TOK_SPECIAL && special_key_taken(t, id, &tmp))) continue;
        json_t *k = token_key(t, id, &tmp);
        if (!k || json_object_set_new(vocab, json_string_value(k), json_integer(id))) {
            json_decref(k);
            goto oom;
        }
        json_decref(k);
    }
    for (uint32_t r = 0; r < t->n_merges; r++) {
        json_t *a = token_key(t, t->merges[r].a, &tmp), *b = token_key(t, t->merges[r].b, &tmp);
        joined.len = 0;
        /* "A B" strings: byte-level text never holds a space, so this is
         * unambiguous and every version of tokenizers reads it. */
        if (!a || !b || buf_append(&joined, json_string_value(a), json_string_length(a)) ||
            buf_putc(&joined, ' ') ||
            buf_append(&joined, json_string_value(b), json_string_length(b)) ||
            json_array_append_new(merges, json_stringn(joined.data, joined.len))) {
            json_decref(a);
            json_decref(b);
            goto oom;
        }
        json_decref(a);
        json_decref(b);
    }
    for (uint32_t i = 0; i < t->n_specials; i++) {
        size_t len;
        const char *p = tok_bytes(t, t->specials[i], &len);
        json_t *o = json_pack("{s:I, s:s%, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)t->specials[i],
                              "content", p, len, "single_word", 0, "lstrip", 0, "rstrip", 0,
                              "normalized", 0, "special", 1);
        if (!o || json_array_append_new(added, o)) goto oom;
    }
    /* add_prefix_space: a ByteLevel of its own, as the loader reads it. In a
     * Sequence after a Split, HF would add the space to every piece. */
    int bl_regex = t->add_prefix_space && t->regex && !strcmp(t->regex, pretok_builtin("gpt2"));
    if (t->add_prefix_space && t->regex && !bl_regex) {
        rc = err_set(e, "%s: cannot write add_prefix_space with a pattern other than GPT-2's: HF's ByteLevel "
                        "adds the space to every piece a Split makes", err_name(path));
        goto done;
    }
    json_t *bl = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space",
                           t->add_prefix_space, "trim_offsets", 1, "use_regex", bl_regex);
    json_t *pre;
    if (t->regex && !bl_regex)
        pre = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, o]}", "type", "Sequence", "pretokenizers",
                        "type", "Split", "pattern", "Regex", t->regex, "behavior", "Isolated",
                        "invert", 0, bl);
    else
        pre = bl;
    json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE",
                              "dropout", "unk_token", "continuing_subword_prefix",
                              "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
                              "ignore_merges", t->ignore_merges, "vocab", vocab, "merges", merges);
    vocab = merges = NULL; /* owned by model now (json_pack "o" steals) */
    json_t *dec = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1,
                            "trim_offsets", 1, "use_regex", 1);
    if (!pre || !model || !dec ||
        json_object_set_new(root, "version", json_string("1.0")) ||
        json_object_set_new(root, "truncation", json_null()) ||
        json_object_set_new(root, "padding", json_null()) ||
        json_object_set_new(root, "added_tokens", added) ||
        json_object_set_new(root, "normalizer", json_null()) ||
        json_object_set_new(root, "pre_tokenizer", pre) ||
        json_object_set_new(root, "post_processor", json_null()) ||
        json_object_set_new(root, "decoder", dec) || json_object_set_new(root, "model", model)) {
        added = NULL;
        goto oom;
    }
    added = NULL;
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s) goto oom;
    OutFile *o = out_open(path, e);
    if (o) {
        size_t n = strlen(s);
        if (out_write(o, s, n, e) || out_write(o, "\n", 1, e)) out_abort(o);
        else rc = out_close(o, e);
    }
    free(s);
    goto done;
oom:
    rc = err_set(e, "out of memory writing %s", err_name(path));
done:
    json_decref(root);
    json_decref(vocab);
    json_decref(merges);
    json_decref(added);
    buf_free(&tmp);
    buf_free(&joined);
    return rc;
}
