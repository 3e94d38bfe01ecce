/**
 * A real IMAP server for the tests: Debian's Dovecot (install it with
 * `bash scripts/ensure-dovecot.sh`), started with a configuration of its own
 * in a temporary folder: its own port on 127.0.0.1, one test user in a
 * passwd-file, maildirs in the temporary folder. Run as root, the mail and
 * login processes run as the package's unprivileged `dovecot` and `dovenull`
 * users; run as anyone else, everything runs as that user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const DOVECOT = '/usr/sbin/dovecot';

export interface TestImapServer {
  host: string;
  port: number;
  user: string;
  password: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Resolves once the server greets on the port. */
async function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('data', (chunk: Buffer) => {
      socket.destroy();
      resolve(chunk.toString('utf8').startsWith('* OK'));
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

function idsOf(name: string): { uid: number; gid: number } {
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim()));
  return { uid, gid };
}

export async function startDovecot(): Promise<TestImapServer> {
  if (!existsSync(DOVECOT)) throw new Error(`${DOVECOT} is missing: run "bash scripts/ensure-dovecot.sh" first`);
  const dir = await mkdtemp(join(tmpdir(), 'kmc-dovecot-'));
  const asRoot = process.getuid?.() === 0;
  const me = userInfo().username;
  const internalUser = asRoot ? 'dovecot' : me;
  const loginUser = asRoot ? 'dovenull' : me;
  const mailIds = asRoot ? idsOf('dovecot') : { uid: userInfo().uid, gid: userInfo().gid };
  const port = await freePort();
  const user = 'bounces';
  const password = 'test-password';

  // The unprivileged processes must reach the mail folder and the passwd-file inside the temporary folder.
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'mail'));
  await mkdir(join(dir, 'run'));
  await mkdir(join(dir, 'state'));
  if (asRoot) await chown(join(dir, 'mail'), mailIds.uid, mailIds.gid);
  await writeFile(join(dir, 'passwd'), `${user}:{PLAIN}${password}\n`, { mode: 0o644 });
  const config = `# A Dovecot of the tests' own; nothing from /etc/dovecot is read.
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = ${internalUser}
default_login_user = ${loginUser}
first_valid_uid = ${String(Math.min(mailIds.uid, 500))}
mail_location = maildir:${dir}/mail/%u
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = static
  args = uid=${String(mailIds.uid)} gid=${String(mailIds.gid)} home=${dir}/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${String(port)}
  }
  inet_listener imaps {
    port = 0
  }
}
`;
  await writeFile(join(dir, 'dovecot.conf'), config);

  const child: ChildProcess = spawn(DOVECOT, ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    if (await greets(port)) return { host: '127.0.0.1', port, user, password, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const log = await readFile(join(dir, 'dovecot.log'), 'utf8').catch(() => '');
  await stop();
  throw new Error(`dovecot did not start on port ${String(port)}:\n${output}\n${log}`);
}
