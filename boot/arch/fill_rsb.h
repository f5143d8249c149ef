/*
 * FILL_RSB: 32 calls whose return addresses are a harmless trap, then the
 * stack put back, so the return stack buffer holds nothing a guest put
 * there (SpectreRSB; Linux's FILL_RETURN_BUFFER). Used by the entry code
 * right after a VM exit, before the host's first RET. Clobbers RCX.
 */
#ifndef FILL_RSB_H
#define FILL_RSB_H

.macro FILL_RSB
	mov $16, %ecx
771:	call 772f
773:	pause
	lfence
	jmp 773b
772:	call 774f
775:	pause
	lfence
	jmp 775b
774:	dec %ecx
	jnz 771b
	add $(32 * 8), %rsp
.endm

#endif
