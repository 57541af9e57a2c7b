/**
 * WebSocket close codes and what a client does after each (SPEC §9.4): the
 * same table as the Rust runtime's `tagwire::CloseCode::action`, so a server
 * steers Rust and TypeScript clients alike with the code alone.
 */

/**
 * What a client does after a close: `"reconnect"` with the usual backoff,
 * `"later"` (a deploy: a random moment inside the drain window, then the
 * backoff multiplied), or `"stop"` for good.
 */
export type CloseAction = "reconnect" | "later" | "stop";

/** The close codes of SPEC §9.4 by name. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS: 1005,
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  HEARTBEAT_TIMEOUT: 4000,
  DRAIN: 4001,
  SLOW_CONSUMER: 4002,
  PROTOCOL_MISMATCH: 4003,
  UNAUTHORIZED: 4004,
  RATE_LIMITED: 4005,
} as const;

/**
 * SPEC §9.4's table. Codes not listed reconnect: a client that stopped for a
 * code it does not know would turn a server upgrade into an outage.
 */
export function closeAction(code: number): CloseAction {
  switch (code) {
    case 1000:
    case 1002:
    case 1003:
    case 1007:
    case 1008:
    case 1009:
    case 1010:
    case 4003:
    case 4004:
      return "stop";
    case 1012:
    case 1013:
    case 4001:
    case 4005:
      return "later";
    default:
      return "reconnect";
  }
}

/**
 * The code's short name for logs and status text (`"drain"`), `"unknown"`
 * for codes SPEC §9.4 does not name (the Rust runtime's `CloseCode::name`).
 */
export function closeCodeName(code: number): string {
  switch (code) {
    case 1000:
      return "normal";
    case 1001:
      return "going_away";
    case 1002:
      return "protocol_error";
    case 1003:
      return "unsupported_data";
    case 1006:
      return "abnormal";
    case 1007:
      return "invalid_payload";
    case 1008:
      return "policy";
    case 1009:
      return "too_big";
    case 1011:
      return "internal_error";
    case 1012:
      return "service_restart";
    case 1013:
      return "try_again_later";
    case 4000:
      return "heartbeat_timeout";
    case 4001:
      return "drain";
    case 4002:
      return "slow_consumer";
    case 4003:
      return "protocol_mismatch";
    case 4004:
      return "unauthorized";
    case 4005:
      return "rate_limited";
    default:
      return "unknown";
  }
}
