/*
 * Intel VT-x with EPT (Intel SDM vol. 3C): the sibling of svm.c behind
 * boot/arch/vcpu.h. Not written yet (issue 4): detection reports VT-x
 * plainly so the boot log says why no guest runs on an Intel machine.
 */
#include "hv.h"
#include "boot.h"
#include "arch/vcpu.h"

#define CPUID_VMX (1u << 5)   /* CPUID.1:ECX.VMX (SDM vol. 3C, 24.6) */

static bool vmx_detect(char *why, unsigned why_size)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & CPUID_VMX))
		ksnprintf(why, why_size, "the CPU has no VT-x (CPUID.1:ECX.VMX = 0)");
	else
		ksnprintf(why, why_size, "the CPU has VT-x, and the VT-x backend is not written yet");
	return false;
}

static bool vmx_cpu_enable(char *why, unsigned why_size) { return false; }
static bool vmx_vcpu_create(struct arch_vcpu *vcpu, const struct arch_guest_tables *tables,
			    const struct vcpu_state *s, char *why, unsigned why_size) { return false; }
static void vmx_vcpu_destroy(struct arch_vcpu *vcpu) {}
static void vmx_vcpu_run(struct arch_vcpu *vcpu, struct exit_record *e) {}
static void vmx_vcpu_apply(struct arch_vcpu *vcpu, const struct exit_record *e) {}

const struct arch_backend vmx_backend = {
	.name = "VT-x",
	.vendor = ARCH_VMX,
	.detect = vmx_detect,
	.cpu_enable = vmx_cpu_enable,
	.vcpu_create = vmx_vcpu_create,
	.vcpu_destroy = vmx_vcpu_destroy,
	.vcpu_run = vmx_vcpu_run,
	.vcpu_apply = vmx_vcpu_apply,
};
