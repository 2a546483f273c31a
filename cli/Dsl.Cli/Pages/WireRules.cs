namespace Dsl.Cli.Pages;

/// <summary>
/// The runtime's wire rules, the same for every protocol, as the protocol pages state them. Each sentence is what the
/// runtime code does (the codecs in Dsl.Runtime.Codecs and the generated codecs, the transports, the driver);
/// <c>ProtocolPageTests</c> checks the figures against the runtime's own constants.
/// </summary>
internal static class WireRules
{
    public const string Json =
        "A message that is not valid UTF-8, anywhere, or that escapes a lone UTF-16 surrogate (a `\\uD800`-`\\uDFFF` not in a high-low pair), is refused as malformed. Members may come in any order; members this version does not know are ignored; a known member given twice is refused; " +
        "a `null` member counts as absent where the member is optional. Nesting deeper than 32 levels is refused, and so is anything after the object. " +
        "Bytes in hex: a sender writes lower case, a receiver accepts either case. Bytes in base64: the standard alphabet, with padding. " +
        "Integers and timestamps are JSON integers: `1.0` and `1e3` are refused. A timestamp is Unix seconds, from year 1 to year 9999. " +
        "A decimal is written in its shortest exact form, without an exponent. A UUID is written in lower case. " +
        "A sender escapes non-ASCII characters and `<>&'+\"` in strings as `\\uXXXX`; a receiver reads any valid JSON spelling.";

    public const string Canonical =
        "Canonical JSON is RFC 8785: members sorted by their names' UTF-16 code units, numbers in ECMAScript form, " +
        "strings with only `\"`, `\\` and control characters escaped. A number a double cannot hold exactly " +
        "(an integer beyond 2^53, `0.50000000000000005`) is refused on both sides, not rounded.";

    public const string Failure =
        "The error message is sent within 1 s; then the role closes: over TCP it ends its side of the stream, over WebSocket it sends " +
        "a close frame whose status says why (1008 when it refused what the peer sent, 1009 when what it refused was a message over the limit, " +
        "1011 after a timeout or a failure of its own, 1001 when its application cancelled, 1000 after the peer's error message or close; " +
        "no description), over UDP one empty datagram. A role that received the peer's error message sends nothing back.";

    public const string Transports = """
        ## Transports

        The runtime carries the same messages over each transport; a deployment picks one.

        - **TCP**: each message is a frame: a 4-byte big-endian length, of the body alone, then the body (the JSON). A body is at most
          64 KiB; a longer frame fails the receiving side. A frame of length 0 is an empty message, which does not decode (malformed).
          The end of the stream between frames is the peer closing; inside a frame, a reset connection. A server resets a connection
          that sends nothing within 5 s of connecting, and refuses (resets at once) a connection beyond 64 from one IP address or
          from an address its block list holds; when all 1,024 of its slots are taken, a connection from a new address takes the
          slot of a silent connection from the address that holds the most.
        - **WebSocket**: one message per WebSocket text message, at most 64 KiB. A close frame carries a status and no description. A
          frame that breaks RFC 6455 (for example an unmasked client frame, a reserved opcode, a continuation with no message started, a
          control frame over 125 bytes) is closed with 1002, a text message that is not UTF-8 with 1007, a binary message with 1003, and
          nothing goes before these. A message over 64 KiB is closed with 1009, after the error message if the spec sends one. Every
          other close says why the side closes: 1000 when the exchange ends as planned or the peer ended it, 1001 when the application
          cancels, 1008 when the side refuses what the peer sent (a failed check, a message that does not decode or was not expected),
          1011 after a timeout (a step, the handshake, a lost heartbeat) or a failure of its own. The closing side waits for the peer's
          close frame (at most 1 s after a failed handshake, 2 s otherwise), then ends the TCP connection; a connection is reset only
          when no close frame could go out (the peer stopped reading, or a server handler returned without closing). A plain HTTP
          request to the endpoint gets 400.
        - **UDP**: one message per datagram, and nothing else: no header, no sequence number, no acknowledgement. A datagram is at most
          8192 bytes; a larger one is dropped. A side that has sent and waits for an answer sends its last messages again, byte for byte,
          after 200 ms, then 400, 800, 1600 and 2000 ms, at most 6 times (about 9 s in all), then fails. A receiver drops an exact
          copy of any of the last 32 messages it received; when the copy is of a message it has already answered, it sends its answer
          again, once. So a retransmission must be byte-identical: a message encoded again is a new message, refused as unexpected.
          An empty datagram is a close: a side that fails sends its error message (if any), then one empty datagram. A server keeps a
          finished handshake for 5 s to answer retransmissions.
          A server first checks that a new address receives at its address, and keeps nothing for it until then (a stateless
          retry, as QUIC's Retry): it answers the first datagram from an unknown address, if 6 bytes or more, with an 18-byte
          retry, `FF 52` then a 16-byte cookie, and drops the datagram. The client sends its datagrams again, each as `FF 43`, the
          cookie, then the datagram as it was (an empty close likewise), until the server's first datagram arrives; from then on
          datagrams are bare. A cookie is good for 30 to 60 s; one that is stale or made for another address gets a new retry.
          A datagram starting with `FF` is control, never a message: it starts no UTF-8 text and no secure-channel frame.


        """;
}
