/* `model import` (import.c): a GPT-2 from a Hugging Face folder or an llm.c
 * checkpoint into a run folder. argv[0] is "import"; returns the exit status
 * (0, 1 data or I/O error, 2 bad usage). */
#ifndef IMPORT_H
#define IMPORT_H

int import_main(int argc, char **argv);

#endif
