// Baseline: the overdue candidates' SELECT (the very SQL the sidecar runs, handed over in
// KMC_BENCH_SQL) streamed by the smallest mysql2 program, rows counted and dropped.
// Usage: node select.mjs DATABASE_URL
import mysql from 'mysql2';

const connection = mysql.createConnection(process.argv[2]);
let rows = 0;
connection
  .query(process.env.KMC_BENCH_SQL)
  .stream()
  .on('data', () => {
    rows += 1;
  })
  .on('error', (err) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  })
  .on('end', () => {
    process.stdout.write(`${JSON.stringify({ rows })}\n`);
    connection.end();
  });
