/** `kmc doctor`: what is set, what is reachable, what is wrong. */
export { diagnose, dkimFindings } from './diagnose';
export type { CheckArea, DoctorDatabase, DoctorDeps, DoctorReport, Finding, SettingShown, Verdict } from './diagnose';
export { describeReport } from './words';
export { doctorDeps } from './probes';
export { doctorCommand } from './command';
