// Test harness for gateway-client.js: records what each client reports, and every frame
// the page sends or receives on its websockets (through a WebSocket subclass).
const record = { events: [], states: [], recovered: [], errors: [], sent: [], received: [] };
window.record = record;
window.clients = {};

const NativeWebSocket = window.WebSocket;
window.WebSocket = class RecordedWebSocket extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (message) => record.received.push(JSON.parse(message.data)));
  }

  send(data) {
    record.sent.push(JSON.parse(data));
    return super.send(data);
  }
};

window.startClient = async (gatewayUrl, options) => {
  const { GatewayClient } = await import(`${gatewayUrl}/gateway-client.js`);
  const name = options.name;
  const client = new GatewayClient({
    url: options.wsUrl,
    token: options.token,
    refreshToken: options.refresh ? () => window.mintToken(name) : undefined,
    history: options.history,
    backoff: { initialMs: 200, maxMs: 1000 },
    onEvent: (event, info) => record.events.push({ name, id: event.id, replayed: info.replayed }),
    onState: (state, detail) =>
      record.states.push({
        name,
        state,
        reason: detail.reason || null,
        code: detail.code || null,
        delayMs: detail.delayMs ?? null,
      }),
    onRecovered: (result) => record.recovered.push({ name, ...result }),
    onError: (error) => record.errors.push({ name, code: error.code }),
  });
  window.clients[name] = client;
  client.connect();
};
