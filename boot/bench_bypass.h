/* The bench's bypass build: boot/bench_bypass.c. */
#ifndef BENCH_BYPASS_H
#define BENCH_BYPASS_H

#include <stdbool.h>
#include "exit_record.h"

#ifdef HV_BENCH_BYPASS
/* Answers the exit-loop guest's exits in place; false for any other exit. */
bool bench_bypass(struct exit_record *e);
#endif

#endif
