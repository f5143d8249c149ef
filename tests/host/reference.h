/*
 * The reference VMM of figure P1 (issue 10): the exits `hvhost exits`
 * replays, handled as a careful hypervisor written in C would handle them,
 * in the same struct exit_record as the core (linker/exit_record.h) and
 * with the same answer. reference.c says what it covers and how it differs.
 */
#ifndef REFERENCE_H
#define REFERENCE_H

#include <stdint.h>
#include "exit_record.h"

struct ref_vm;

/* A one-vCPU guest of `ram_bytes` of RAM at `ram`, as the core's guest VMM
 * is after create(): devices in their power-on state. `name` prefixes its
 * console lines, as the core's does. NULL without memory. */
struct ref_vm *ref_vm_create(uint8_t *ram, uint64_t ram_bytes, const char *name);
void ref_vm_destroy(struct ref_vm *vm);

/* Answers the exit in `e`, as core_guest_handle_exit answers the core's. */
void ref_handle_exit(struct ref_vm *vm, struct exit_record *e);

#endif
