/* sweep and lr-find's pure parts: the grid lists and the LR range test's
 * verdict on hand-made curves whose answer is known. */
#include <math.h>
#include <stdlib.h>

#include "../check.h"
#include "../../model/sweep.h"

static void test_lists(void)
{
    int v[8];
    CHECK_INT(3, sweep_parse_list("2,4,8", 1, 100, v, 8));
    CHECK_INT(8, v[2]);
    CHECK_INT(1, sweep_parse_list("64", 1, 100, v, 8));
    CHECK_INT(-1, sweep_parse_list("2,,4", 1, 100, v, 8));
    CHECK_INT(-1, sweep_parse_list("2,4,", 1, 100, v, 8));
    CHECK_INT(-1, sweep_parse_list("", 1, 100, v, 8));
    CHECK_INT(-1, sweep_parse_list("2,x", 1, 100, v, 8));
    CHECK_INT(-1, sweep_parse_list("0,2", 1, 100, v, 8));   /* below the range */
    CHECK_INT(-1, sweep_parse_list("2,4,2", 1, 100, v, 8)); /* a point twice */
    CHECK_INT(-1, sweep_parse_list("1,2,3", 1, 100, v, 2)); /* more than fit */
}

/* Without smoothing (beta 0): flat at 5 for steps 0..19, falling 0.1 a step to
 * 3.0 at 35 except 0.3 a step at 25 and 26 (central differences are steepest
 * at 25), flat to 44, then doubling: above 4 x 3.0 = 12 first at step 47 (5,
 * 10, 20 from 45). */
static void test_verdict(void)
{
    enum { N = 60 };
    double lr[N], loss[N];
    for (int i = 0; i < N; i++) {
        lr[i] = 1e-6 * pow(1e6, i / (double)(N - 1));
        if (i < 20) loss[i] = 5;
        else if (i <= 35) loss[i] = loss[i - 1] - ((i == 25 || i == 26) ? 0.3 : 0.1);
        else if (i < 45) loss[i] = loss[35];
        else loss[i] = 5 * pow(2, i - 45);
    }
    LrVerdict v;
    CHECK_INT(0, lrfind_verdict(lr, loss, N, 0, 4, &v));
    double lmin = loss[35];
    CHECK(fabs(lmin - 3.0) < 1e-9);
    CHECK_INT(35, v.i_min);                      /* the first of the flat minimum */
    CHECK_INT(47, v.i_div);                      /* 20 > 4 x 3.0 */
    CHECK_INT(25, v.i_steep);
    CHECK(fabs(v.slope - -0.6 / (log(lr[26]) - log(lr[24]))) < 1e-9);
    CHECK(fabs(v.suggested - lr[25]) < 1e-15);
    CHECK(v.suggested > lr[0] && v.suggested < lr[v.i_div]);
    free(v.smoothed);

    /* a NaN diverges there; smoothing with beta 0.5 keeps the bias-corrected start */
    loss[40] = NAN;
    CHECK_INT(0, lrfind_verdict(lr, loss, N, 0.5, 4, &v));
    CHECK_INT(40, v.i_div);
    CHECK(fabs(v.smoothed[0] - 5) < 1e-12);    /* bias correction: no pull towards 0 */
    CHECK(isnan(v.smoothed[41]));
    CHECK(v.i_steep > 20 && v.i_steep <= v.i_min && v.i_min < 40);
    free(v.smoothed);

    /* a loss that never falls: no suggestion */
    for (int i = 0; i < N; i++) loss[i] = 5 + i * 0.01;
    CHECK_INT(0, lrfind_verdict(lr, loss, N, 0.9, 4, &v));
    CHECK_INT(-1, v.i_steep);
    CHECK(v.suggested == 0);
    free(v.smoothed);
}

int main(void)
{
    test_lists();
    test_verdict();
    return check_done("test_sweep");
}
