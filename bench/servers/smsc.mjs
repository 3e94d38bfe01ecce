// The bench's SMSC, in a process of its own: accepts any bind and answers every submit_sm
// after `node smsc.mjs DELAY_MS` (0: at once), as an SMSC at that distance does. No receipts.
import smpp from 'smpp';

const delayMs = Number(process.argv[2] ?? 0);
let received = 0;
const server = smpp.createServer((session) => {
  session.on('error', () => undefined);
  // Answers leave at once, not held back until the client acknowledges the one before (Nagle's algorithm).
  session.socket.setNoDelay(true);
  const bind = (pdu) => {
    session.send(pdu.response());
  };
  session.on('bind_transceiver', bind);
  session.on('bind_transmitter', bind);
  session.on('bind_receiver', bind);
  session.on('enquire_link', (pdu) => {
    session.send(pdu.response());
  });
  session.on('submit_sm', (pdu) => {
    received += 1;
    const response = pdu.response({ message_id: `b${received}` });
    if (delayMs > 0)
      setTimeout(() => {
        session.send(response);
      }, delayMs);
    else session.send(response);
  });
  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    session.close();
  });
});
server.on('error', () => undefined);
server.listen(0, '127.0.0.1', () => {
  process.send({ ready: true, port: server.address().port });
});
process.on('message', (m) => {
  if (m.ask === 'count') process.send({ count: received });
});
process.on('disconnect', () => process.exit(0));
