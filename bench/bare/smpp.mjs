// Baseline: a bare windowed `smpp` loop: one transceiver bind, WINDOW submit_sm in flight,
// no bookkeeping. Usage: node smpp.mjs PORT COUNT WINDOW
import smpp from 'smpp';

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const window = Number(process.argv[4] ?? 10);
const TEXT = 'Centralbiblioteket: 2 loans are overdue (Röda rummet, Gösta Berlings saga). Please return or renew them.';

const session = smpp.connect({ host: '127.0.0.1', port });
await new Promise((resolve, reject) => {
  session.once('error', reject);
  session.once('connect', () => {
    session.send(new smpp.PDU('bind_transceiver', { system_id: 'kmc', password: 'secret' }), (resp) => {
      if (resp.command_status === 0) resolve();
      else reject(new Error(`bind refused: ${resp.command_status}`));
    });
  });
});
let next = 0;
const lane = async () => {
  while (next < count) {
    next += 1;
    const n = next;
    await new Promise((resolve, reject) => {
      session.send(
        new smpp.PDU('submit_sm', {
          source_addr_ton: 5,
          source_addr: 'Library',
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          destination_addr: `4670${String(1000000 + n)}`,
          registered_delivery: 1,
          short_message: TEXT,
        }),
        (resp) => {
          if (resp.command_status === 0) resolve();
          else reject(new Error(`submit refused: ${resp.command_status}`));
        },
      );
    });
  }
};
await Promise.all(Array.from({ length: window }, lane));
await new Promise((resolve) => {
  const timer = setTimeout(resolve, 200);
  session.send(new smpp.PDU('unbind', {}), () => {
    clearTimeout(timer);
    resolve();
  });
});
session.destroy();
process.stdout.write(`${JSON.stringify({ sent: count })}\n`);
