// The bench's SMTP server, in a process of its own so its work is not counted as the sender's.
// Takes every message, keeps only a count. The parent asks for the count over IPC.
import smtpServer from 'smtp-server';

let received = 0;
const server = new smtpServer.SMTPServer({
  secure: false,
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, _session, callback) {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      received += 1;
      callback(null);
    });
  },
});
server.on('error', () => undefined);
server.listen(0, '127.0.0.1', () => {
  process.send({ ready: true, port: server.server.address().port });
});
process.on('message', (m) => {
  if (m.ask === 'count') process.send({ count: received });
});
process.on('disconnect', () => process.exit(0));
