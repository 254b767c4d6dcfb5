// A team's custom-LLM WebSocket server, written against Retell's protocol the way Retell's demo servers are, for
// callguard's retell-socket backend tests. It knows nothing of callguard.
//
// Usage: node upstream-server.js [port] [--no-hang] [--no-pong]
//   port 0 (default) picks a free port. --no-hang answers "hang" like any other utterance. --no-pong never answers
//   pings (a half-dead server: the socket stays open).
//
// Stdout, one JSON object a line, for the test to read:
//   {"event":"listening","port":N}
//   {"event":"connected","conn":N,"path":"/llm-websocket/<call_id>"}
//   {"event":"received","conn":N,"frame":{...}}   every frame received, as parsed
//   {"event":"closed","conn":N,"code":N}
//
// Behaviour per connection:
//   - sends config {auto_reconnect:true, call_details:true} at once;
//   - on call_details: sends the begin message (response_id 0), greeting the caller by from_number;
//   - echoes ping_pong (except its own, timestamp 42, echoed back);
//   - answers response_required / reminder_required by the last user utterance:
//       "order"     holding chunk, tool_call_invocation, tool_call_result, follow-up answer (same response_id)
//       "bye"       "Goodbye!" with end_call
//       "transfer"  transfer_number (+ show_transferee_as_caller)
//       "interrupt" an answer, then an agent_interrupt
//       "stale"     a response for an older response_id first, then the answer
//       "ping me"   a ping_pong of its own (timestamp 42), then the answer
//       "hang"      nothing at all (unless --no-hang)
//       otherwise   "You said: <utterance>" streamed in chunks, then an empty content_complete
//   Every response carries an unknown field, as servers do.
'use strict';

const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const port = Number(args.find((a) => /^\d+$/.test(a)) || 0);
const hang = !args.includes('--no-hang');
const pong = !args.includes('--no-pong');

function log(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const wss = new WebSocketServer({ port, host: '127.0.0.1' });
let connections = 0;

wss.on('listening', () => log({ event: 'listening', port: wss.address().port }));

wss.on('connection', (ws, req) => {
  const conn = ++connections;
  log({ event: 'connected', conn, path: req.url });
  const send = (frame) => ws.send(JSON.stringify(frame));
  const respond = (id, content, complete, extra) =>
    send(Object.assign({ response_type: 'response', response_id: id, content, content_complete: complete,
      server_extra: 'ignored' }, extra || {}));

  send({ response_type: 'config', config: { auto_reconnect: true, call_details: true } });

  ws.on('message', (data, isBinary) => {
    let frame;
    try {
      frame = JSON.parse(data.toString());
    } catch (e) {
      log({ event: 'unparsable', conn, text: data.toString() });
      return;
    }
    log({ event: 'received', conn, frame });
    switch (frame.interaction_type) {
      case 'ping_pong':
        if (frame.timestamp !== 42 && pong) {
          send({ response_type: 'ping_pong', timestamp: frame.timestamp });
        }
        break;
      case 'call_details': {
        const from = (frame.call && frame.call.from_number) || 'there';
        respond(0, 'Hello ' + from + ', how can I help?', true);
        break;
      }
      case 'update_only':
        break;
      case 'response_required':
      case 'reminder_required':
        answer(frame, respond, send);
        break;
      default:
        break;
    }
  });

  ws.on('close', (code) => log({ event: 'closed', conn, code }));
});

function answer(frame, respond, send) {
  const id = frame.response_id;
  const transcript = frame.transcript || [];
  const users = transcript.filter((u) => u.role === 'user');
  const said = users.length ? users[users.length - 1].content : '';
  const lower = said.toLowerCase();
  if (lower.includes('hang') && hang) {
    return;
  }
  if (lower.includes('order')) {
    respond(id, 'Let me check your order.', false);
    send({ response_type: 'tool_call_invocation', tool_call_id: 'call_1', name: 'lookup_order',
      arguments: JSON.stringify({ order_id: '42' }) });
    setTimeout(() => {
      send({ response_type: 'tool_call_result', tool_call_id: 'call_1', content: '{"status":"shipped"}' });
      respond(id, 'Your order has shipped.', false);
      respond(id, '', true);
    }, 50);
    return;
  }
  if (lower.includes('bye')) {
    respond(id, 'Goodbye!', true, { end_call: true });
    return;
  }
  if (lower.includes('transfer')) {
    respond(id, 'Transferring you now.', true, { transfer_number: '+14155550100', show_transferee_as_caller: true });
    return;
  }
  if (lower.includes('stale') && id > 0) {
    respond(id - 1, 'old answer', true);
  }
  if (lower.includes('ping me')) {
    send({ response_type: 'ping_pong', timestamp: 42 });
  }
  const words = ('You said: ' + said).split(' ');
  const half = Math.ceil(words.length / 2);
  respond(id, words.slice(0, half).join(' ') + ' ', false);
  setTimeout(() => {
    respond(id, words.slice(half).join(' '), false, { no_interruption_allowed: true });
    respond(id, '', true);
    if (lower.includes('interrupt')) {
      send({ response_type: 'agent_interrupt', interrupt_id: 7, content: 'One more thing!', content_complete: true,
        no_interruption_allowed: false });
    }
  }, 20);
}

process.on('SIGTERM', () => process.exit(0));
