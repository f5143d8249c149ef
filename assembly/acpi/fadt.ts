// The FADT (ACPI 6.5, 5.2.9; signature "FACP"), revision 6, 276 bytes: the
// ACPI fixed hardware of devices/pc_layout.ts, where the DSDT and FACS are,
// and what else the PC has.
//
// Decisions, each a flag or field below:
// - SMI_CMD 0: there is no SMM, so the machine is always in ACPI mode (an
//   OS then skips the ACPI_ENABLE handshake); SCI_EN must read 1.
// - No GPE blocks, no PM1b, no PM2, no C2/C3 (latencies over 100 and 1000
//   say so), no duty-cycle throttling.
// - PWR_BUTTON clear: the power button is fixed hardware, PM1_STS.PWRBTN_STS
//   and PM1_EN.PWRBTN_EN (devices/acpi_pm.ts pressPowerButton: the host
//   asks the guest to shut down). SLP_BUTTON set: there is no sleep button,
//   fixed or control-method (the DSDT has no PNP0C0E device). Power-off is
//   \_S5 through PM1a_CNT.
// - FIX_RTC set: the PM1 registers have no RTC_STS/RTC_EN wake bits; the
//   RTC itself is there (IAPC_BOOT_ARCH "CMOS RTC Not Present" clear).
// - TMR_VAL_EXT: the PM timer counts 32 bits.
// - RESET_REG_SUP: writing RESET_VALUE to PORT_RESET_CONTROL resets.
// - IAPC_BOOT_ARCH: legacy devices and an 8042; no VGA; no MSI yet.
// - The 32-bit and the X_ (generic address) forms of each block say the
//   same thing; the FACS address only in FIRMWARE_CTRL (it is below 4 GiB;
//   X_FIRMWARE_CTRL is for one above).

import { writeTableHeader, sealTable } from "./header";
import {
  IRQ_SCI, PORT_PM1A_EVENT, PM1A_EVENT_BYTES, PORT_PM1A_CONTROL, PM1A_CONTROL_BYTES, PORT_PM_TIMER,
  PM_TIMER_BYTES, PORT_RESET_CONTROL, RESET_VALUE,
} from "../devices/pc_layout";

export const FADT_BYTES: u32 = 276;
export const FADT_REVISION: u8 = 6;
export const FADT_MINOR_VERSION: u8 = 5;   // ACPI 6.5

// Field offsets (5.2.9, "FADT Format").
export const FADT_FIRMWARE_CTRL = 36;
export const FADT_DSDT = 40;
export const FADT_PREFERRED_PM_PROFILE = 45;
export const FADT_SCI_INT = 46;
export const FADT_SMI_CMD = 48;
export const FADT_ACPI_ENABLE = 52;
export const FADT_PM1A_EVT_BLK = 56;
export const FADT_PM1B_EVT_BLK = 60;
export const FADT_PM1A_CNT_BLK = 64;
export const FADT_PM_TMR_BLK = 76;
export const FADT_GPE0_BLK = 80;
export const FADT_PM1_EVT_LEN = 88;
export const FADT_PM1_CNT_LEN = 89;
export const FADT_PM2_CNT_LEN = 90;
export const FADT_PM_TMR_LEN = 91;
export const FADT_GPE0_BLK_LEN = 92;
export const FADT_P_LVL2_LAT = 96;
export const FADT_P_LVL3_LAT = 98;
export const FADT_CENTURY = 108;
export const FADT_IAPC_BOOT_ARCH = 109;
export const FADT_FLAGS = 112;
export const FADT_RESET_REG = 116;
export const FADT_RESET_VALUE = 128;
export const FADT_ARM_BOOT_ARCH = 129;
export const FADT_MINOR_VERSION_OFFSET = 131;
export const FADT_X_FIRMWARE_CTRL = 132;
export const FADT_X_DSDT = 140;
export const FADT_X_PM1A_EVT_BLK = 148;
export const FADT_X_PM1B_EVT_BLK = 160;
export const FADT_X_PM1A_CNT_BLK = 172;
export const FADT_X_PM1B_CNT_BLK = 184;
export const FADT_X_PM2_CNT_BLK = 196;
export const FADT_X_PM_TMR_BLK = 208;
export const FADT_X_GPE0_BLK = 220;
export const FADT_X_GPE1_BLK = 232;
export const FADT_SLEEP_CONTROL_REG = 244;
export const FADT_SLEEP_STATUS_REG = 256;
export const FADT_HYPERVISOR_VENDOR_IDENTITY = 268;

// Fixed feature flags (5.2.9, "Fixed ACPI Description Table Fixed Feature Flags").
export const FADT_WBINVD: u32 = 1 << 0;
export const FADT_PROC_C1: u32 = 1 << 2;
export const FADT_PWR_BUTTON: u32 = 1 << 4;     // no fixed power button (clear: there is one)
export const FADT_SLP_BUTTON: u32 = 1 << 5;     // no fixed sleep button
export const FADT_FIX_RTC: u32 = 1 << 6;        // no RTC wake status in PM1
export const FADT_RTC_S4: u32 = 1 << 7;
export const FADT_TMR_VAL_EXT: u32 = 1 << 8;    // 32-bit PM timer
export const FADT_RESET_REG_SUP: u32 = 1 << 10;
export const FADT_HW_REDUCED_ACPI: u32 = 1 << 20;
export const FADT_FLAGS_VALUE: u32 = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC | FADT_TMR_VAL_EXT |
  FADT_RESET_REG_SUP;

// IA-PC boot architecture flags (5.2.9.3).
export const BOOT_ARCH_LEGACY_DEVICES: u16 = 1 << 0;
export const BOOT_ARCH_8042: u16 = 1 << 1;
export const BOOT_ARCH_VGA_NOT_PRESENT: u16 = 1 << 2;
export const BOOT_ARCH_MSI_NOT_SUPPORTED: u16 = 1 << 3;
export const BOOT_ARCH_CMOS_RTC_NOT_PRESENT: u16 = 1 << 5;
export const FADT_BOOT_ARCH_VALUE: u16 = BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_8042 | BOOT_ARCH_VGA_NOT_PRESENT |
  BOOT_ARCH_MSI_NOT_SUPPORTED;

// Over 100 (C2) and over 1000 (C3) microseconds: the state is not supported.
export const P_LVL2_LAT_NONE: u16 = 101;
export const P_LVL3_LAT_NONE: u16 = 1001;
// The CMOS RAM index of the RTC's century byte.
export const RTC_CENTURY_INDEX: u8 = 0x32;
// "tshv-hv" and a NUL: who the hypervisor is (no version, as 5.2.9 asks).
export const HYPERVISOR_VENDOR_IDENTITY = "tshv-hv";

// The Generic Address Structure (5.2.3.2): address space, bit width, bit
// offset, access size, 64-bit address.
export const GAS_BYTES: u32 = 12;
export const GAS_SYSTEM_IO: u8 = 1;
export const GAS_ACCESS_BYTE: u8 = 1;
export const GAS_ACCESS_WORD: u8 = 2;
export const GAS_ACCESS_DWORD: u8 = 3;

// Writes the FADT at `at` (FADT_BYTES, zeroed by the caller).
export function writeFadt(at: usize, facsAddress: u64, dsdtAddress: u64): void {
  writeTableHeader(at, "FACP", FADT_BYTES, FADT_REVISION);
  store<u32>(at, <u32>facsAddress, FADT_FIRMWARE_CTRL);
  store<u32>(at, <u32>dsdtAddress, FADT_DSDT);
  store<u8>(at, 0, FADT_PREFERRED_PM_PROFILE);   // unspecified
  store<u16>(at, <u16>IRQ_SCI, FADT_SCI_INT);
  store<u32>(at, 0, FADT_SMI_CMD);
  store<u32>(at, PORT_PM1A_EVENT, FADT_PM1A_EVT_BLK);
  store<u32>(at, PORT_PM1A_CONTROL, FADT_PM1A_CNT_BLK);
  store<u32>(at, PORT_PM_TIMER, FADT_PM_TMR_BLK);
  store<u8>(at, <u8>PM1A_EVENT_BYTES, FADT_PM1_EVT_LEN);
  store<u8>(at, <u8>PM1A_CONTROL_BYTES, FADT_PM1_CNT_LEN);
  store<u8>(at, <u8>PM_TIMER_BYTES, FADT_PM_TMR_LEN);
  store<u16>(at, P_LVL2_LAT_NONE, FADT_P_LVL2_LAT);
  store<u16>(at, P_LVL3_LAT_NONE, FADT_P_LVL3_LAT);
  store<u8>(at, RTC_CENTURY_INDEX, FADT_CENTURY);
  store<u16>(at, FADT_BOOT_ARCH_VALUE, FADT_IAPC_BOOT_ARCH);
  store<u32>(at, FADT_FLAGS_VALUE, FADT_FLAGS);
  writeGas(at + FADT_RESET_REG, 8, GAS_ACCESS_BYTE, PORT_RESET_CONTROL);
  store<u8>(at, <u8>RESET_VALUE, FADT_RESET_VALUE);
  store<u8>(at, FADT_MINOR_VERSION, FADT_MINOR_VERSION_OFFSET);
  store<u64>(at, dsdtAddress, FADT_X_DSDT);
  // PM1_STS and PM1_EN are 16-bit registers; PM1_CNT 16; PM_TMR 32.
  writeGas(at + FADT_X_PM1A_EVT_BLK, PM1A_EVENT_BYTES * 8, GAS_ACCESS_WORD, PORT_PM1A_EVENT);
  writeGas(at + FADT_X_PM1A_CNT_BLK, PM1A_CONTROL_BYTES * 8, GAS_ACCESS_WORD, PORT_PM1A_CONTROL);
  writeGas(at + FADT_X_PM_TMR_BLK, PM_TIMER_BYTES * 8, GAS_ACCESS_DWORD, PORT_PM_TIMER);
  let vendor = at + FADT_HYPERVISOR_VENDOR_IDENTITY;
  for (let i = 0; i < 8; i++) {
    store<u8>(vendor + <usize>i, i < HYPERVISOR_VENDOR_IDENTITY.length ? <u8>HYPERVISOR_VENDOR_IDENTITY.charCodeAt(i) : 0);
  }
  sealTable(at);
}

// A system I/O register of `bits` bits at `port`.
function writeGas(at: usize, bits: u32, accessSize: u8, port: u32): void {
  store<u8>(at, GAS_SYSTEM_IO, 0);
  store<u8>(at, <u8>bits, 1);
  store<u8>(at, 0, 2);
  store<u8>(at, accessSize, 3);
  store<u64>(at, <u64>port, 4);
}
