// Where the guest's PC has its devices: ports, MMIO ranges, ACPI's fixed
// hardware. One table, so the devices, the buses that route to them and the
// ACPI tables that describe them to the guest never disagree.

// --- I/O ports ----------------------------------------------------------------
export const PORT_PIC_MASTER: u32 = 0x20;      // 2 ports: command, data
export const PORT_PIC_SLAVE: u32 = 0xa0;       // 2 ports
export const PORT_ELCR: u32 = 0x4d0;           // 2 ports: edge/level control, master then slave
export const PORT_PIT: u32 = 0x40;             // 4 ports: channels 0-2, mode/command
export const PORT_SYSTEM_CONTROL_B: u32 = 0x61; // PIT channel 2 gate and output, speaker
export const PORT_I8042_DATA: u32 = 0x60;
export const PORT_I8042_COMMAND: u32 = 0x64;   // status on read
export const PORT_RTC: u32 = 0x70;             // 2 ports: index (bit 7 masks NMI), data
export const PORT_POST: u32 = 0x80;            // POST codes, used as a delay
export const PORT_DELAY: u32 = 0xed;           // another delay port (Linux io_delay)
export const PORT_SYSTEM_CONTROL_A: u32 = 0x92; // fast A20 (bit 1), fast reset (bit 0)
export const PORT_COM1: u32 = 0x3f8;           // 8 ports
export const PORT_DEBUG_EXIT: u32 = 0xf4;
export const PORT_PCI_CONFIG_ADDRESS: u32 = 0xcf8; // dword
export const PORT_RESET_CONTROL: u32 = 0xcf9;  // byte, inside the PCI range: bit 2 resets (bit 1 hard)
export const PORT_PCI_CONFIG_DATA: u32 = 0xcfc; // 4 ports
// ACPI fixed hardware (ACPI 6.5, 4.8): the FADT points here.
export const PORT_PM1A_EVENT: u32 = 0x600;     // 4 ports: PM1_STS (2), PM1_EN (2)
export const PM1A_EVENT_BYTES: u32 = 4;
export const PORT_PM1A_CONTROL: u32 = 0x604;   // 2 ports: PM1_CNT
export const PM1A_CONTROL_BYTES: u32 = 2;
export const PORT_PM_TIMER: u32 = 0x608;       // 4 ports: PM_TMR, 32 bits (FADT TMR_VAL_EXT)
export const PM_TIMER_BYTES: u32 = 4;
export const PM_TIMER_HZ: u64 = 3579545;
// PM1_CNT.SLP_TYP for S5, as the DSDT's \_S5 package says.
export const SLP_TYP_S5: u32 = 5;
// The value the FADT's reset register takes (written to PORT_RESET_CONTROL).
export const RESET_VALUE: u32 = 0x06;
export const IRQ_SCI: u32 = 9;

// --- MMIO -----------------------------------------------------------------------
export const IOAPIC_BASE: u64 = 0xfec00000;
export const IOAPIC_BYTES: u32 = 0x1000;
export const IOAPIC_PINS: u32 = 24;
export const LAPIC_BASE: u64 = 0xfee00000;
export const LAPIC_BYTES: u32 = 0x1000;

// --- guest-physical memory below 1 MiB -------------------------------------------
// The BIOS area: ACPI tables at ACPI_TABLES_BASE, the RSDP (found by the
// scan of 0xE0000-0xFFFFF, ACPI 6.5, 5.2.5.1) at RSDP_ADDRESS. The loaders
// mark [BIOS_AREA_BASE, 1 MiB) reserved in the guest's memory map.
export const BIOS_AREA_BASE: u64 = 0xe0000;
export const ACPI_TABLES_BASE: u64 = 0xe0000;
export const ACPI_TABLES_BYTES: u32 = 0x10000;  // up to 0xEFFFF
export const RSDP_ADDRESS: u64 = 0xf0000;
// Below this conventional memory ends (the EBDA and VGA hole above it).
export const CONVENTIONAL_MEMORY_END: u64 = 0x9fc00;
