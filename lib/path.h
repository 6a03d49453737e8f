/* Paths a user gives. */
#ifndef PATH_H
#define PATH_H

/* p without its trailing slashes, in place ("run/" and "run//" become "run";
 * "/" stays), so that "DIR/name" joins with one slash. Returns p. */
char *path_tidy(char *p);

#endif
