// A team's custom-LLM WebSocket server, written against Retell's protocol the way Retell's demo servers are, for
// callguard's retell-socket backend tests. It knows nothing of callguard.
//
// Usage: node upstream-server.js [port] [--no-hang] [--no-pong] [--no-config] [--no-auto-reconnect]
//                                [--tool-calls-transcript]
//   port 0 (default) picks a free port. --no-hang answers "hang" like any other utterance. --no-pong never answers
//   pings (a half-dead server: the socket stays open). --no-config sends no config frame at all (Retell goes on
//   with its defaults). --no-auto-reconnect sends a config without auto_reconnect (so no pings are owed).
//   --tool-calls-transcript asks for transcript_with_tool_calls in its config.
//
// Stdout, one JSON object a line, for the test to read:
//   {"event":"listening","port":N}
//   {"event":"connected","conn":N,"path":"/llm-websocket/<call_id>"}
//   {"event":"received","conn":N,"frame":{...}}   every frame received, as parsed
//   {"event":"closed","conn":N,"code":N}
//
// Behaviour per connection:
//   - sends config {auto_reconnect:true, call_details:true} at once (see the flags);
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
//       "settings"  "Changing my settings.", an update_agent (responsiveness 0.4, reminder_max_count 2) and a
//                   metadata frame within the turn, then the complete
//       "press 1"   "Pressing one." with digit_to_press "1"
//       "call me later" "Noted." complete, then (outside any turn) an update_agent and a metadata frame
//       "close the line" "Closing the line.", content not complete, then closes the socket with 1000 (a deliberate
//                   hang-up); "close the line after": "Bye for now." complete, then the same close;
//                   "bye and close": "Goodbye!" with end_call, then the same close
//       otherwise   "You said: <utterance>" streamed in chunks, then an empty content_complete
//   Every response carries an unknown field, as servers do.
'use strict';

const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const port = Number(args.find((a) => /^\d+$/.test(a)) || 0);
const hang = !args.includes('--no-hang');
const pong = !args.includes('--no-pong');
const config = !args.includes('--no-config');
const autoReconnect = !args.includes('--no-auto-reconnect');
const toolCallsTranscript = args.includes('--tool-calls-transcript');

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

  if (config) {
    const asked = { auto_reconnect: autoReconnect, call_details: true };
    if (toolCallsTranscript) {
      asked.transcript_with_tool_calls = true;
    }
    send({ response_type: 'config', config: asked });
  }

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
        answer(frame, respond, send, ws);
        break;
      default:
        break;
    }
  });

  ws.on('close', (code) => log({ event: 'closed', conn, code }));
});

function answer(frame, respond, send, ws) {
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
  if (lower.includes('settings')) {
    respond(id, 'Changing my settings.', false);
    send({ response_type: 'update_agent', agent_config: { responsiveness: 0.4, reminder_max_count: 2 } });
    send({ response_type: 'metadata', metadata: { topic: 'settings', turn: id } });
    respond(id, '', true);
    return;
  }
  if (lower.includes('press 1')) {
    respond(id, 'Pressing one.', true, { digit_to_press: '1' });
    return;
  }
  if (lower.includes('call me later')) {
    respond(id, 'Noted.', true);
    setTimeout(() => {
      send({ response_type: 'update_agent', agent_config: { interruption_sensitivity: 0.9 } });
      send({ response_type: 'metadata', metadata: { topic: 'later' } });
    }, 30);
    return;
  }
  if (lower.includes('bye and close')) {
    respond(id, 'Goodbye!', true, { end_call: true });
    setTimeout(() => ws.close(1000, 'agent hangup'), 30);
    return;
  }
  if (lower.includes('close the line after')) {
    respond(id, 'Bye for now.', true);
    setTimeout(() => ws.close(1000, 'agent hangup'), 30);
    return;
  }
  if (lower.includes('close the line')) {
    respond(id, 'Closing the line.', false);
    ws.close(1000, 'agent hangup');
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
