// Drives the bus's EventBridge API with the AWS SDK for JavaScript v3
// (@aws-sdk/client-eventbridge, pinned in package-lock.json): node eventbridge_sdk.js <endpoint>.
// Prints one JSON object with every answer (without $metadata) and the names of the errors.
'use strict';
const eb = require('@aws-sdk/client-eventbridge');

const client = new eb.EventBridgeClient({
  endpoint: process.argv[2],
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  maxAttempts: 1,
});

function strip(answer) {
  const { $metadata, ...rest } = answer;
  return rest;
}

async function errorName(command) {
  try {
    await client.send(command);
    return 'no error';
  } catch (e) {
    return e.name;
  }
}

(async () => {
  const out = {};
  out.putRule = strip(await client.send(new eb.PutRuleCommand({
    Name: 'sdk-orders',
    EventPattern: JSON.stringify({ source: ['sdk.app'], 'detail-type': ['OrderPlaced'] }),
    Description: 'made by the AWS SDK',
  })));
  out.putTargets = strip(await client.send(new eb.PutTargetsCommand({
    Rule: 'sdk-orders',
    Targets: [{ Id: 'analytics', Arn: 'arn:aws:sqs:us-east-1:000000000000:analytics' }],
  })));
  out.putEvents = strip(await client.send(new eb.PutEventsCommand({
    Entries: [
      { Source: 'sdk.app', DetailType: 'OrderPlaced', Detail: JSON.stringify({ orderId: 'sdk-1' }) },
      { Source: 'sdk.app', DetailType: 'OrderPlaced', Detail: '[1, 2]' },
      { Source: 'sdk.app', DetailType: 'OrderPlaced', Detail: JSON.stringify({ orderId: 'sdk-2' }),
        Resources: ['arn:aws:example:1'], Time: new Date('2026-01-02T03:04:05Z') },
    ],
  })));
  out.listRules = strip(await client.send(new eb.ListRulesCommand({ NamePrefix: 'sdk-' })));
  out.describeRule = strip(await client.send(new eb.DescribeRuleCommand({ Name: 'sdk-orders' })));
  out.testEventPattern = strip(await client.send(new eb.TestEventPatternCommand({
    EventPattern: JSON.stringify({ detail: { n: [{ numeric: ['>', 5] }] } }),
    Event: JSON.stringify({
      id: '1', account: '000000000000', source: 'x', time: '2026-01-01T00:00:00Z',
      region: 'us-east-1', 'detail-type': 'T', resources: [], detail: { n: 7 },
    }),
  })));
  out.describeEventBus = strip(await client.send(new eb.DescribeEventBusCommand({})));
  out.badPattern = await errorName(new eb.PutRuleCommand({ Name: 'bad', EventPattern: '{"source": "x"}' }));
  out.unknownRule = await errorName(new eb.DescribeRuleCommand({ Name: 'no-such-rule' }));
  out.tooManyEntries = await errorName(new eb.PutEventsCommand({
    Entries: Array.from({ length: 11 }, () => ({ Source: 's', DetailType: 'd', Detail: '{}' })),
  }));
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
