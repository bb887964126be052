<?php
/**
 * Send honeypot events to a HoneyBee node's event port (PHP 7.0+, no extensions
 * beyond the standard json and sockets streams).
 *
 *     require_once __DIR__ . '/honeybee.php';
 *     honeybee_send_event('login', ['username' => $user, 'password' => $pass]);
 *     // or, source-compatible with the HoneyBee integration guide:
 *     (new HoneyBeeForwarder())->sendEvent('login', ['username' => $user]);
 *
 * Each event is one compact JSON line on its own connection to
 * 127.0.0.1:$HONEYBEE_EVENT_PORT (default 9100):
 *
 *     {"pot_id":"…","pot_type":"…","event_type":"login",
 *      "timestamp":"2024-01-15T10:30:00.123456Z","data":{"username":"admin"}}
 *
 * Differences from the guide's forwarder, each fixing a fault seen in the wild:
 *  - the environment is read with getenv(): $_ENV is empty under PHP's default
 *    variables_order ("GPCS"), so the guide's forwarder always used port 9100;
 *  - invalid UTF-8 (attackers send it) is replaced by U+FFFD instead of making
 *    json_encode() fail, which made the guide's forwarder send a lone "\n";
 *  - 127.0.0.1 rather than "localhost" (which may resolve to ::1, where the
 *    node does not listen); the whole send, not only the connect, is bounded
 *    by the timeout; the timestamp is UTC with "Z" (date('c') gives the
 *    server's local offset);
 *  - nothing is ever thrown, warned or printed into the honeypot's page: every
 *    call returns true (written) or false (not sent).
 */

if (!function_exists('honeybee_send_event')) {
    /**
     * Sends one event and returns true when the line was written, false when it
     * was not (nothing listening, timeout, unencodable data). Never throws,
     * never emits a warning, never blocks longer than $timeout seconds.
     *
     * @param string $eventType e.g. "login"
     * @param mixed  $data      the event's fields (array or object); any other
     *                          value is kept under the key "value"
     * @param float  $timeout   seconds for connecting and writing together
     */
    function honeybee_send_event($eventType, $data = [], $timeout = 0.5): bool
    {
        try {
            $line = honeybee_encode_event(
                honeybee_event($eventType, $data, honeybee_env_string('HONEYBEE_POT_ID'),
                               honeybee_env_string('HONEYBEE_HONEYPOT_TYPE')));
            if ($line === null) {
                return false;
            }
            return honeybee_send_line($line, honeybee_env_port(), $timeout);
        } catch (\Throwable $e) {
            return false;
        }
    }

    /** The event port from HONEYBEE_EVENT_PORT; 9100 when unset or invalid. */
    function honeybee_env_port(): int
    {
        $raw = @getenv('HONEYBEE_EVENT_PORT');
        if ($raw === false || !preg_match('/^\s*\d{1,5}\s*$/', $raw)) {
            return 9100;
        }
        $port = (int)$raw;
        return ($port > 0 && $port < 65536) ? $port : 9100;
    }

    /**
     * An environment variable read with getenv() (works whatever
     * variables_order says), or null when unset or empty: the node then
     * attributes the event to the pot it started.
     */
    function honeybee_env_string(string $name)
    {
        $value = @getenv($name);
        return ($value === false || $value === '') ? null : $value;
    }

    /** The event array: pot_id, pot_type (when known), event_type, timestamp, data. */
    function honeybee_event($eventType, $data, $potId, $potType): array
    {
        if ($data === null) {
            $data = [];
        } elseif (!is_array($data) && !is_object($data)) {
            $data = ['value' => $data];
        }
        $event = [];
        if ($potId !== null) {
            $event['pot_id'] = (string)$potId;
        }
        if ($potType !== null) {
            $event['pot_type'] = (string)$potType;
        }
        $event['event_type'] = is_scalar($eventType) ? (string)$eventType : 'unknown';
        $now = new \DateTimeImmutable('now', new \DateTimeZone('UTC'));
        $event['timestamp'] = $now->format('Y-m-d\TH:i:s.u\Z');
        // An object, so that empty or list-shaped data still encodes as {…}.
        $event['data'] = is_array($data) ? (object)$data : $data;
        return $event;
    }

    /**
     * One wire line (JSON and "\n"), or null when even a partial encoding is
     * impossible. Invalid UTF-8 becomes U+FFFD; values json_encode cannot
     * represent (resources, NAN, recursion) become null/0 instead of failing
     * the whole event. json_encode never emits a raw newline, so the line
     * cannot be split by its content.
     */
    function honeybee_encode_event(array $event)
    {
        $flags = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PARTIAL_OUTPUT_ON_ERROR;
        if (defined('JSON_INVALID_UTF8_SUBSTITUTE')) { // PHP >= 7.2
            $flags |= JSON_INVALID_UTF8_SUBSTITUTE;
        }
        $json = @json_encode($event, $flags);
        if (!is_string($json) || $json === '' || strpos($json, "\n") !== false) {
            return null; // never send an empty line
        }
        return $json . "\n";
    }

    /**
     * Writes $line to 127.0.0.1:$port on a fresh connection. Non-blocking
     * writes with stream_select() so a node that stops reading cannot hold the
     * honeypot longer than $timeout.
     */
    function honeybee_send_line(string $line, int $port, $timeout = 0.5): bool
    {
        $timeout = (float)$timeout;
        if ($timeout <= 0) {
            $timeout = 0.5;
        }
        $deadline = microtime(true) + $timeout;
        $errno = 0;
        $errstr = '';
        $socket = @fsockopen('127.0.0.1', $port, $errno, $errstr, $timeout);
        if (!is_resource($socket)) {
            return false;
        }
        try {
            @stream_set_blocking($socket, false);
            $length = strlen($line);
            $offset = 0;
            while ($offset < $length) {
                // At most 1 MiB per call: a multi-megabyte line is not copied whole
                // again for every partial write.
                $written = @fwrite($socket, substr($line, $offset, 1048576));
                if ($written === false) {
                    return false;
                }
                if ($written > 0) {
                    $offset += $written;
                    continue;
                }
                $remaining = $deadline - microtime(true);
                if ($remaining <= 0) {
                    return false;
                }
                $read = null;
                $write = [$socket];
                $except = null;
                $seconds = (int)$remaining;
                $micros = (int)(($remaining - $seconds) * 1000000);
                if (@stream_select($read, $write, $except, $seconds, $micros) === false) {
                    return false;
                }
            }
            return true;
        } finally {
            @fclose($socket);
        }
    }
}

if (!class_exists('HoneyBeeForwarder')) {
    /**
     * The HoneyBee integration guide's forwarder, source-compatible
     * (constructor without arguments, sendEvent($eventType, $data) returning
     * true or false), with the fixes listed at the top of this file. As in the
     * guide, the environment is read once, when the object is created.
     */
    class HoneyBeeForwarder
    {
        private $port;
        private $potId;
        private $potType;

        public function __construct()
        {
            $this->port = honeybee_env_port();
            $this->potId = honeybee_env_string('HONEYBEE_POT_ID');
            $this->potType = honeybee_env_string('HONEYBEE_HONEYPOT_TYPE');
        }

        public function sendEvent($eventType, $data): bool
        {
            try {
                $line = honeybee_encode_event(honeybee_event($eventType, $data, $this->potId, $this->potType));
                return $line !== null && honeybee_send_line($line, $this->port);
            } catch (\Throwable $e) {
                return false;
            }
        }
    }
}
