#include "path.h"

#include <string.h>

char *path_tidy(char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = 0;
    return p;
}
