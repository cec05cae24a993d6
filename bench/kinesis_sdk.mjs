// Puts N records of S bytes with @aws-sdk/client-kinesis (PutRecords of 500, one call at a time,
// failed records put again), and prints: records, seconds, records/s, CPU microseconds per record
// of this node process (process.cpuUsage). For bench/kinesis.sh, beside bench/kinesis_put.cc.
// Usage: node bench/kinesis_sdk.mjs ENDPOINT STREAM RECORDS BYTES
import { KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis";
// HTTP/1.1 keep-alive: the Kinesis client defaults to HTTP/2, which kinesalite does not speak.
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { Agent } from "node:http";

const [endpoint, stream, recordsArg, bytesArg] = process.argv.slice(2);
const records = Number(recordsArg);
const data = Buffer.alloc(Number(bytesArg), "x");
const client = new KinesisClient({
  endpoint,
  region: process.env.AWS_REGION || "us-east-1",
  requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true }) }),
});

const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let i = 0; i < records; i += 500) {
  let batch = [];
  for (let j = i; j < Math.min(records, i + 500); ++j) {
    batch.push({ Data: data, PartitionKey: "bench|" + j });
  }
  while (batch.length > 0) {
    const out = await client.send(new PutRecordsCommand({ StreamName: stream, Records: batch }));
    batch = batch.filter((_, k) => out.Records[k].ErrorCode);
  }
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
console.log(
  `${records} ${seconds.toFixed(3)} ${(records / seconds).toFixed(0)} ` +
    `${((cpu.user + cpu.system) / records).toFixed(1)}`,
);
