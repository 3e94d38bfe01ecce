/** A print letter as the worker hands it to the print adapter, for the tests of the print folder. */
import type { OutgoingMessage } from '../../sidecar/channels';

export function printLetter(id: number, runId: number): OutgoingMessage {
  return {
    id,
    channel: 'print',
    to: 'Åsa Öberg\nÄngsvägen 3\n123 45 Solna',
    from: 'Centralbiblioteket',
    subject: `Notice ${id}`,
    text: `Notice number ${id}`,
    branchcode: 'CPL',
    runId,
  };
}
