/* repeats.c's runs against qsort's: random fingerprints, with few or many
 * repeats, values that keep few bits (a bin past SMALL, scattered again) and
 * bins big enough to be filtered on their low bits first, the same Repeats
 * reused; each case prints its seed when it fails. */
#include <stdlib.h>

#include "../../filter/repeats.h"
#include "check.h"

static uint64_t rng;

static uint32_t next_u32(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 32);
}

static int by_value(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* m fingerprints: uniform, masked to `mask` bits, and (repeat) one in every
 * `repeat` a copy of an earlier one. */
static void one_case(Repeats *r, uint64_t seed, size_t m, uint32_t mask, size_t repeat)
{
    rng = seed;
    uint32_t *fp = malloc(m * sizeof *fp);
    if (!CHECK(fp)) return;
    for (size_t i = 0; i < m; i++)
        fp[i] = repeat && i && next_u32() % repeat == 0 ? fp[next_u32() % i] : next_u32() & mask;
    CHECK_INT(0, repeats_reset(r, m));
    for (size_t i = 0; i < m; i++) repeats_add(r, fp[i]);
    CHECK_INT(0, repeats_runs(r));
    qsort(fp, m, sizeof *fp, by_value);
    size_t n_runs = 0, longest = 0, bad = 0;
    int single = 0;
    for (size_t i = 0, k; i < m; i += k) {
        for (k = 1; i + k < m && fp[i + k] == fp[i]; k++) {}
        if (k == 1) {
            single = 1;
            continue;
        }
        if (k > longest) longest = k;
        if (n_runs >= r->n_runs || r->run[n_runs] != ((uint64_t)k << 32 | fp[i])) bad++;
        n_runs++;
    }
    char what[160];
    snprintf(what, sizeof what, "seed %llu, %zu fingerprints, mask %#x, a repeat in %zu: runs as qsort's",
             (unsigned long long)seed, m, mask, repeat);
    check_report(!bad && n_runs == r->n_runs && longest == r->longest && single == r->single, __FILE__,
                 __LINE__, what);
    free(fp);
}

int main(void)
{
    Repeats r = {0};
    const size_t sizes[] = {1, 40, 5000, 300000, 1200000};
    const uint32_t masks[] = {UINT32_MAX, 0xff0fffffu, 0xffffu, 0xfffff};
    const size_t repeats[] = {0, 3, 50};
    uint64_t seed = 1;
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++)
        for (size_t b = 0; b < sizeof masks / sizeof *masks; b++)
            for (size_t c = 0; c < sizeof repeats / sizeof *repeats; c++) one_case(&r, seed++, sizes[a], masks[b], repeats[c]);
    repeats_free(&r);
    return check_done("test_repeats");
}
