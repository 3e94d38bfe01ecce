/** `kmc doctor [--json]`: the report in words or as one JSON object; exit 0 when all is well, 1 when not. */
import { parseArgs } from 'node:util';
import { diagnose, type DoctorDeps } from './diagnose';
import { describeReport } from './words';

export async function doctorCommand(args: string[], deps: DoctorDeps, out: { stdout: (s: string) => void }): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  const report = await diagnose(deps);
  out.stdout(values.json ? JSON.stringify(report) : describeReport(report));
  return report.ok ? 0 : 1;
}
