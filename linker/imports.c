/*
 * The core's imports (module "env"), implemented on one screen. The same C
 * function serves both modules when they import the same name; its first
 * argument says which instance called. Every pointer the core passes is an
 * offset into that instance's own linear memory and is checked here: an
 * import never reads or writes outside the caller's memory, and a bad
 * argument traps the caller (only it).
 */
#include "hv.h"
#include "core.h"

/* Returns the host address of [offset, offset+length) in the caller's memory,
 * or traps the caller. */
static uint8_t *linear(struct w2c_env *env, uint32_t offset, uint32_t length)
{
	uint64_t end = (uint64_t)offset + length;
	if (end > env->memory->size)
		wasm_rt_trap(WASM_RT_TRAP_BAD_IMPORT_ARGUMENT);
	return env->memory->data + offset;
}

static void require_supervisor(struct w2c_env *env)
{
	if (env->guest >= 0)
		wasm_rt_trap(WASM_RT_TRAP_BAD_IMPORT_ARGUMENT);
}

/* --- both modules ------------------------------------------------------------*/

/* What a guest VMM instance may put on the host's console: at most
 * CONSOLE_WRITE_MAX bytes a call, printable ASCII and newlines only
 * (anything else becomes '?'), so an instance a hostile guest took over
 * cannot drive the host's terminal with escape sequences or hold the
 * console with one huge write. A guest's finished lines come in one write
 * (devices/console_line.ts: its outbox is at most this). */
#define CONSOLE_WRITE_MAX 1024

static void clean_bytes(char *clean, const uint8_t *text, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		clean[i] = (text[i] >= 0x20 && text[i] < 0x7f) || text[i] == '\n' ? (char)text[i] : '?';
}

/* Eight bytes at a time while all eight are printable (the console line
 * made them so; this is the check a hostile instance cannot skip): about
 * 1.5 instructions a byte instead of 8 (make bench P1, io). A word with a
 * byte below 0x20 (a '\n' too), of 0x7f or above goes byte by byte. Both
 * tests are exact for "some byte is" (a borrow out of one byte can only
 * flag a word that has such a byte): tests/host's console-clean. */
void console_clean(char *clean, const uint8_t *text, uint32_t n)
{
	uint32_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t word;
		memcpy(&word, text + i, 8);
		uint64_t del = word ^ 0x7f7f7f7f7f7f7f7full;
		uint64_t odd = (word | ((word - 0x2020202020202020ull) & ~word) |
				((del - 0x0101010101010101ull) & ~del)) & 0x8080808080808080ull;
		if (odd)
			clean_bytes(clean + i, text + i, 8);
		else
			memcpy(clean + i, &word, 8);
	}
	clean_bytes(clean + i, text + i, n - i);
}

void w2c_env_consoleWrite(struct w2c_env *env, uint32_t pointer, uint32_t length)
{
	const uint8_t *text = linear(env, pointer, length);
	if (env->guest < 0) {          /* the supervisor: trusted, its prompt echoes Backspace */
		core_supervisor_write((const char *)text, length);
		return;
	}
	char clean[CONSOLE_WRITE_MAX];
	uint32_t n = length < CONSOLE_WRITE_MAX ? length : CONSOLE_WRITE_MAX;
	console_clean(clean, text, n);
	console_write(clean, n);
}

/* AssemblyScript's abort(message, file, line, column): strings are UTF-16LE
 * with their byte length in the 4 bytes before them. Printed, then the
 * caller traps (the AssemblyScript side executes unreachable). */
static void print_as_string(struct w2c_env *env, uint32_t pointer)
{
	if (pointer < 4 || pointer > env->memory->size) {
		kprintf("?");
		return;
	}
	uint32_t bytes;
	memcpy(&bytes, linear(env, pointer - 4, 4), 4);
	if (bytes > 512)
		bytes = 512;
	const uint8_t *s = linear(env, pointer, bytes & ~1u);
	for (uint32_t i = 0; i + 1 < bytes; i += 2) {
		uint16_t c = s[i] | (uint16_t)s[i + 1] << 8;
		console_putc(c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
}

void w2c_env_coreAbort(struct w2c_env *env, uint32_t message, uint32_t file, uint32_t line, uint32_t column)
{
	if (core_abort_quiet)
		return;
	if (env->guest < 0)
		kprintf("[hv] core abort in the supervisor: ");
	else
		kprintf("[hv] core abort in guest VMM %d: ", env->guest);
	print_as_string(env, message);
	kprintf(" (");
	print_as_string(env, file);
	kprintf(":%u:%u)\n", line, column);
}

/* --- supervisor only: boot modules ----------------------------------------*/

static const struct boot_module *module_or_null(uint32_t index)
{
	return boot_module_get(index); /* NULL when out of range, -1 included */
}

/* wasm2c types every i32 as u32; -1 is 0xffffffff. */
uint32_t w2c_env_configModule(struct w2c_env *env)
{
	require_supervisor(env);
	for (unsigned i = 0; i < boot_module_count(); i++) {
		const char *name = boot_module_get(i)->name;
		size_t n = strlen(name);
		if (n >= 5 && !strcmp(name + n - 5, ".toml"))
			return i;
	}
	return (uint32_t)-1;
}

uint32_t w2c_env_findModule(struct w2c_env *env, uint32_t path, uint32_t length)
{
	require_supervisor(env);
	const char *p = (const char *)linear(env, path, length);
	for (unsigned i = 0; i < boot_module_count(); i++) {
		const char *name = boot_module_get(i)->name;
		if (strlen(name) == length && !memcmp(name, p, length))
			return i;
	}
	return (uint32_t)-1;
}

uint32_t w2c_env_moduleName(struct w2c_env *env, uint32_t index, uint32_t destination, uint32_t capacity)
{
	require_supervisor(env);
	const struct boot_module *m = module_or_null(index);
	if (!m)
		return 0;
	uint32_t n = (uint32_t)strlen(m->name);
	memcpy(linear(env, destination, capacity), m->name, n < capacity ? n : capacity);
	return n;
}

uint32_t w2c_env_moduleSize(struct w2c_env *env, uint32_t index)
{
	require_supervisor(env);
	const struct boot_module *m = module_or_null(index);
	return m ? m->size : 0;
}

uint32_t w2c_env_moduleRead(struct w2c_env *env, uint32_t index, uint32_t offset, uint32_t destination, uint32_t length)
{
	require_supervisor(env);
	const struct boot_module *m = module_or_null(index);
	uint8_t *dst = linear(env, destination, length);
	if (!m || offset >= m->size)
		return 0;
	uint32_t n = m->size - offset < length ? m->size - offset : length;
	memcpy(dst, m->data + offset, n);
	return n;
}

/* --- guest VMM only: its own guest, nothing else ---------------------------*/

/* A guest VMM's env is the one in its struct guest_vmm (core.c sets it up
 * at instantiation; the instance cannot reach it): the slot is where the
 * env is, no index to scale. The supervisor's env (guest -1) is in none. */
static struct guest_vmm *require_guest(struct w2c_env *env)
{
	if (env->guest < 0)
		wasm_rt_trap(WASM_RT_TRAP_BAD_IMPORT_ARGUMENT);
	return (struct guest_vmm *)((char *)env - __builtin_offsetof(struct guest_vmm, env));
}

static inline bool inside_ram(const struct guest_vmm *vm, uint64_t gpa, uint64_t length)
{
	return vm->ram && gpa <= vm->ram_bytes && length <= vm->ram_bytes - gpa;
}

/* [gpa, gpa+length) inside this guest's RAM, zeroed if never touched
 * before (guest_ram.c), or NULL. `overwrite`: the caller copies into all
 * of it at once, so that range need not be zeroed first. */
static inline __attribute__((always_inline)) uint8_t *guest_ram(struct guest_vmm *vm, uint64_t gpa, uint64_t length,
								 bool overwrite)
{
	if (!inside_ram(vm, gpa, length))
		return NULL;
	if (!guest_ram_ready(vm, gpa, length))
		guest_ram_prepare((unsigned)(vm - core_guests), gpa, length, overwrite);
	return vm->ram + gpa;
}

static __attribute__((noinline)) uint32_t guest_read_prepare(struct guest_vmm *vm, uint64_t gpa, uint8_t *dst,
								uint32_t length)
{
	memcpy(dst, guest_ram(vm, gpa, length, false), length);
	return length;
}

uint32_t w2c_env_guestRead(struct w2c_env *env, uint64_t gpa, uint32_t destination, uint32_t length)
{
	struct guest_vmm *vm = require_guest(env);
	uint8_t *dst = linear(env, destination, length);
	if (!inside_ram(vm, gpa, length))
		return 0;
	/* A block not touched yet is zeroed first, out of line. */
	if (__builtin_expect(!guest_ram_ready(vm, gpa, length), 0))
		return guest_read_prepare(vm, gpa, dst, length);
	/* (Page-table entries, which want no call, come through guestLoad.) */
	memcpy(dst, vm->ram + gpa, length);
	return length;
}

static inline uint64_t load_entry(const uint8_t *src, uint32_t bytes)
{
	if (bytes == 8) {
		uint64_t value;
		__builtin_memcpy(&value, src, 8);
		return value;
	}
	uint32_t value;
	__builtin_memcpy(&value, src, 4);
	return value;
}

/* A table in a block not touched yet: zeroed first (guest_ram.c). Out of
 * line, so guestLoad's way through saves no registers. */
static __attribute__((noinline)) uint64_t guest_load_prepare(struct guest_vmm *vm, uint64_t gpa, uint32_t bytes)
{
	return load_entry(guest_ram(vm, gpa, bytes, false), bytes);
}

uint64_t w2c_env_guestLoad(struct w2c_env *env, uint64_t gpa, uint32_t bytes)
{
	struct guest_vmm *vm = require_guest(env);
	if (bytes != 4 && bytes != 8)
		wasm_rt_trap(WASM_RT_TRAP_BAD_IMPORT_ARGUMENT);
	if (!inside_ram(vm, gpa, bytes))
		return 0;
	if (__builtin_expect(!guest_ram_ready(vm, gpa, bytes), 0))
		return guest_load_prepare(vm, gpa, bytes);
	return load_entry(vm->ram + gpa, bytes);
}

uint32_t w2c_env_guestWrite(struct w2c_env *env, uint64_t gpa, uint32_t source, uint32_t length)
{
	struct guest_vmm *vm = require_guest(env);
	const uint8_t *src = linear(env, source, length);
	uint8_t *dst = guest_ram(vm, gpa, length, true);
	if (!dst)
		return 0;
	memcpy(dst, src, length);
	return length;
}

static const struct boot_module *guest_module(struct guest_vmm *vm, uint32_t which)
{
	return which == 0 ? vm->kernel : which == 1 ? vm->initrd : NULL;
}

uint32_t w2c_env_guestModuleSize(struct w2c_env *env, uint32_t which)
{
	const struct boot_module *m = guest_module(require_guest(env), which);
	return m ? m->size : 0xFFFFFFFFu;
}

uint32_t w2c_env_guestModuleRead(struct w2c_env *env, uint32_t which, uint32_t offset, uint32_t destination, uint32_t length)
{
	const struct boot_module *m = guest_module(require_guest(env), which);
	uint8_t *dst = linear(env, destination, length);
	if (!m || offset >= m->size)
		return 0;
	uint32_t n = m->size - offset < length ? m->size - offset : length;
	memcpy(dst, m->data + offset, n);
	return n;
}

uint32_t w2c_env_guestModuleToRam(struct w2c_env *env, uint32_t which, uint32_t offset, uint64_t gpa, uint32_t length)
{
	struct guest_vmm *vm = require_guest(env);
	const struct boot_module *m = guest_module(vm, which);
	if (!m || offset > m->size || length > m->size - offset)
		return 0;
	uint8_t *dst = guest_ram(vm, gpa, length, true);
	if (!dst)
		return 0;
	memcpy(dst, m->data + offset, length);
	return length;
}

void w2c_env_hostCpuid(struct w2c_env *env, uint32_t leaf, uint32_t subleaf, uint32_t destination)
{
	require_guest(env);
	uint32_t *out = (uint32_t *)linear(env, destination, 16);
	uint32_t r[4];
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(subleaf));
	memcpy(out, r, sizeof r);
}

EXIT_PATH uint64_t w2c_env_readTsc(struct w2c_env *env)
{
	return tsc_read();
}

uint64_t w2c_env_tscHz(struct w2c_env *env)
{
	require_guest(env);
	return tsc_hz_settled();   /* guests see only the 10 ms figure */
}

uint64_t w2c_env_wallClockSeconds(struct w2c_env *env)
{
	require_guest(env);
	return rtc_epoch_seconds();
}
