// A minimal SMTP server for the browser tests (plain `net`, no dependency): answers every
// command the way a permissive server does (220 greeting, 250, 354 for DATA, 221 for QUIT)
// and records each message: its envelope and its raw data.
import net from 'node:net';

/** Starts the sink on 127.0.0.1 (a free port); resolves with { port, url, messages, close }. */
export async function startSmtpSink() {
  const messages = [];
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    let inData = false;
    let env = { from: '', to: [] };
    const reply = (line) => socket.write(`${line}\r\n`);
    reply('220 sink.e2e ESMTP ready');
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          const atStart = buf.startsWith('.\r\n');
          if (end < 0 && !atStart) return;
          const raw = atStart ? '' : buf.slice(0, end);
          buf = atStart ? buf.slice(3) : buf.slice(end + 5);
          inData = false;
          const data = Buffer.from(raw.replace(/^\.\./gm, '.'), 'latin1').toString('utf8');
          messages.push({ from: env.from, to: env.to, data });
          env = { from: '', to: [] };
          reply('250 2.0.0 queued');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') {
          socket.write('250-sink.e2e\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n');
        } else if (verb === 'HELO') {
          reply('250 sink.e2e');
        } else if (verb === 'MAIL') {
          env.from = (line.match(/<([^>]*)>/) || [])[1] || '';
          reply('250 2.1.0 ok');
        } else if (verb === 'RCPT') {
          env.to.push((line.match(/<([^>]*)>/) || [])[1] || '');
          reply('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 end data with <CR><LF>.<CR><LF>');
        } else if (verb === 'QUIT') {
          reply('221 2.0.0 bye');
          socket.end();
        } else if (verb === 'RSET') {
          env = { from: '', to: [] };
          reply('250 2.0.0 ok');
        } else {
          reply('250 2.0.0 ok');
        }
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
