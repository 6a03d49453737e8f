/* The read-only subcommands of bin/model on a trained run: sample (sample.c),
 * eval (evaluate.c) and export (export.c). Each takes argv with argv[0] its
 * own name, parses its options and returns the exit status (0, 1 data or I/O
 * error, 2 bad usage). */
#ifndef SAMPLE_H
#define SAMPLE_H

int sample_main(int argc, char **argv);
int eval_main(int argc, char **argv);
int export_main(int argc, char **argv);

#endif
