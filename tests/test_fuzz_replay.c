/* make check: every kept fuzz input (tests/fuzz/regress) through its target, no crash. */
#include "fuzz/replay.c"
