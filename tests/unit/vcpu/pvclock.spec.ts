// The paravirtual clock (KVM's ABI): the scale reproduces the TSC rate as
// the guest computes it (Linux's pvclock_tsc_khz), time as the guest reads
// it matches ns, the MSRs write the structures into guest RAM.
import { timeScale, scaledNs, kvmLeaf, writeSystemTime, writeWallClock } from "../../../assembly/vcpu/pvclock";
import { FakePlatform, ramU32, ramU64, ramU8 } from "../guest/helpers";

const OUT: usize = memory.data(16, 16);

// The guest's view of the TSC rate: (10^6 << 32) / mul, shifted back.
function guestKhz(scale: u64): u64 {
  let mul = scale & 0xffffffff;
  let shift = <i32>(<i8>(<u8>(scale >> 32)));
  let khz = (<u64>1000000 << 32) / mul;
  return shift < 0 ? khz << <u64>(-shift) : khz >> <u64>shift;
}

describe("the paravirtual clock", () => {
  it("scales 100 MHz to 3.7 GHz TSCs so the guest reads the rate back within 1 kHz", () => {
    let rates: u64[] = [100000000, 1000000000, 2596000000, 3700000000];
    for (let i = 0; i < rates.length; i++) {
      let khz = guestKhz(timeScale(rates[i]));
      let want = rates[i] / 1000;
      expect(khz + 1 >= want && khz <= want + 1).toBe(true, rates[i].toString());
    }
  });

  it("turns TSC ticks into ns as the guest does", () => {
    let scale = timeScale(2596000000);
    let ns = scaledNs(2596000000 * 10, scale);       // 10 s of TSC
    expect(ns > 9999990000 && ns < 10000010000).toBe(true);
    expect(scaledNs(0, scale)).toBe(0);
  });

  it("answers KVM's signature and the clock features at 0x40000100", () => {
    kvmLeaf(0x40000100, OUT);
    expect(load<u32>(OUT)).toBe(0x40000101);
    expect(String.UTF8.decodeUnsafe(OUT + 4, 9)).toBe("KVMKVMKVM");
    kvmLeaf(0x40000101, OUT);
    expect(load<u32>(OUT)).toBe(1 << 3 | 1 << 24);
    expect(load<u32>(OUT, 12)).toBe(0);
  });

  it("writes the vCPU's time_info where the guest asks, version even, TSC stable", () => {
    let platform = new FakePlatform();
    expect(writeSystemTime(0x5001, 2596000000, platform)).toBe(true);
    expect(ramU32(0x5000)).toBe(2);
    expect(ramU64(0x5008)).toBe(0);
    expect(ramU32(0x5018)).toBe(<u32>(timeScale(2596000000) & 0xffffffff));
    expect(ramU8(0x501d)).toBe(1);
    // Bit 0 clear: disabled, nothing written; outside RAM: #GP.
    expect(writeSystemTime(0x6000, 2596000000, platform)).toBe(true);
    expect(ramU32(0x6000)).toBe(0);
    expect(writeSystemTime((<u64>1 << 40) | 1, 2596000000, platform)).toBe(false);
  });

  it("writes the wall clock of guest time 0", () => {
    let platform = new FakePlatform();
    // 5 s into the guest's life at wall time 1,700,000,005: its epoch is 1,700,000,000.
    expect(writeWallClock(0x7000, 1000000000 * 5, 1000000000, 1700000005, platform)).toBe(true);
    expect(ramU32(0x7000)).toBe(2);
    expect(ramU32(0x7004)).toBe(1700000000);
    expect(writeWallClock(0x7001, 0, 1000000000, 0, platform)).toBe(false);
  });
});
