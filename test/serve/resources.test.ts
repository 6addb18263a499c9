import { describe, expect, it } from 'vitest';
import { formatSlurmTime, parseSlurmTime } from '../../src/exec/slurm.js';
import { instanceResources } from '../../src/serve/servers.js';

describe('server job resources', () => {
  it('reads every time form sbatch and sinfo use', () => {
    expect(parseSlurmTime('30')).toBe(1800);
    expect(parseSlurmTime('30:00')).toBe(1800);
    expect(parseSlurmTime('12:00:00')).toBe(43200);
    expect(parseSlurmTime('1-00:00:00')).toBe(86400);
    expect(parseSlurmTime('2-12')).toBe(2 * 86400 + 12 * 3600);
    expect(parseSlurmTime('2-12:30')).toBe(2 * 86400 + 12 * 3600 + 1800);
    expect(parseSlurmTime('infinite')).toBe(Infinity);
    expect(parseSlurmTime('UNLIMITED')).toBe(Infinity);
    expect(parseSlurmTime('12h')).toBeUndefined();
    expect(formatSlurmTime(1800)).toBe('0-00:30:00');
    expect(parseSlurmTime(formatSlurmTime(3 * 86400 + 3661))).toBe(3 * 86400 + 3661);
  });

  it('scales CPUs and memory with the GPUs of an instance, unless fixed per instance', () => {
    expect(instanceResources({}, 4)).toEqual({ cpus: 32 });
    expect(instanceResources({ cpusPerGpu: 6, memPerGpu: '80g' }, 4)).toEqual({ cpus: 24, mem: '320G' });
    // A CPU-only instance counts as one GPU's share.
    expect(instanceResources({ memPerGpu: '16G' }, 0)).toEqual({ cpus: 8, mem: '16G' });
    expect(instanceResources({ cpusPerInstance: 3, mem: '100G', cpusPerGpu: 6, memPerGpu: '80G' }, 4)).toEqual({ cpus: 3, mem: '100G' });
    expect(() => instanceResources({ memPerGpu: '80 GB' }, 1)).toThrow('mem_per_gpu "80 GB" is not a Slurm memory size');
  });
});
