using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;

namespace Dsl.Runtime.Expressions;

/// <summary>
/// The built-in functions of the spec language, as generated code calls them. Each is named after the
/// function (<c>hkdf_sha256</c> is <see cref="HkdfSha256"/>); docs/spec-language.md gives their types.
/// </summary>
public static class Builtins
{
    /// <summary>The clock a step reads once: the time in whole seconds, the precision timestamps have on the wire.</summary>
    public static DateTimeOffset Clock(TimeProvider timeProvider)
        => DateTimeOffset.FromUnixTimeSeconds(timeProvider.GetUtcNow().ToUnixTimeSeconds());

    /// <summary><c>now()</c>: the step's clock reading (see <see cref="Clock"/>).</summary>
    public static DateTimeOffset Now(DateTimeOffset stepClock) => stepClock;

    /// <summary><c>uuid4()</c>: a random version-4 UUID.</summary>
    public static Guid Uuid4(Handshakes.RandomSource random) => Handshakes.Uuid.NewV4(random);

    /// <summary><c>len(text)</c>: the length in UTF-16 code units, as <c>max_length</c> counts.</summary>
    public static long Len(string text) => text.Length;

    /// <summary><c>len(data)</c>: the number of bytes.</summary>
    public static long Len(Bytes data) => data.Length;

    /// <summary><c>len(list)</c>: the number of items.</summary>
    public static long Len<T>(System.Collections.Generic.IReadOnlyList<T> list) => list.Count;

    /// <summary><c>text(value)</c> of a string: itself.</summary>
    public static string Text(string value) => value;

    /// <summary><c>text(value)</c> of an int: decimal.</summary>
    public static string Text(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary><c>text(value)</c> of a bool: <c>true</c> or <c>false</c>.</summary>
    public static string Text(bool value) => value ? "true" : "false";

    /// <summary><c>text(value)</c> of a uuid: lower-case 8-4-4-4-12.</summary>
    public static string Text(Guid value) => value.ToString("D");

    /// <summary><c>text(value)</c> of a timestamp: Unix seconds.</summary>
    public static string Text(DateTimeOffset value) => value.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary><c>text(value)</c> of bytes: lower-case hex.</summary>
    public static string Text(Bytes value) => value.ToHex();

    /// <summary><c>unhex(text)</c>: the bytes written in hex (either case), or absent when the text is not hex.</summary>
    public static Bytes? Unhex(string text) => Bytes.TryFromHex(text, out var value) ? value : null;

    /// <summary><c>unbase64(text)</c>: the bytes written in standard base64, or absent when the text is not base64.</summary>
    public static Bytes? Unbase64(string text) => Bytes.TryFromBase64(text, out var value) ? value : null;

    /// <summary><c>random(n)</c>: n bytes from the cryptographic random number generator.</summary>
    public static Bytes Random(Handshakes.RandomSource random, long count)
    {
        var bytes = new byte[checked((int)count)];
        random.Fill(bytes);
        return new(bytes);
    }

    /// <summary><c>sha256(data)</c>.</summary>
    public static Bytes Sha256(Bytes data) => new(Digests.Sha256(data.Span));

    /// <summary><c>hmac_sha256(key, data)</c>.</summary>
    public static Bytes HmacSha256(Bytes key, Bytes data) => new(Cryptography.HmacSha256.Compute(key.Span, data.Span));

    /// <summary><c>hkdf_sha256(ikm, salt, info, length)</c>.</summary>
    public static Bytes HkdfSha256(Bytes inputKeyMaterial, Bytes salt, Bytes info, long length)
        => new(Cryptography.HkdfSha256.DeriveKey(inputKeyMaterial.Span, salt.Span, info.Span, checked((int)length)));

    /// <summary><c>chacha20_seal(key, nonce, plaintext, aad)</c>: ciphertext followed by the 16-byte tag.</summary>
    public static Bytes Chacha20Seal(Bytes key, Bytes nonce, Bytes plaintext, Bytes associatedData)
        => new(AeadAlgorithm.ChaCha20Poly1305.Seal(key.Span, nonce.Span, plaintext.Span, associatedData.Span));

    /// <summary><c>chacha20_open(key, nonce, ciphertext, aad)</c>: the plaintext, or absent when not authentic.</summary>
    public static Bytes? Chacha20Open(Bytes key, Bytes nonce, Bytes ciphertext, Bytes associatedData)
        => AeadAlgorithm.ChaCha20Poly1305.Open(key.Span, nonce.Span, ciphertext.Span, associatedData.Span) is { } plaintext ? new Bytes(plaintext) : null;

    /// <summary><c>aes256gcm_seal(key, nonce, plaintext, aad)</c>.</summary>
    public static Bytes Aes256gcmSeal(Bytes key, Bytes nonce, Bytes plaintext, Bytes associatedData)
        => new(AeadAlgorithm.Aes256Gcm.Seal(key.Span, nonce.Span, plaintext.Span, associatedData.Span));

    /// <summary><c>aes256gcm_open(key, nonce, ciphertext, aad)</c>.</summary>
    public static Bytes? Aes256gcmOpen(Bytes key, Bytes nonce, Bytes ciphertext, Bytes associatedData)
        => AeadAlgorithm.Aes256Gcm.Open(key.Span, nonce.Span, ciphertext.Span, associatedData.Span) is { } plaintext ? new Bytes(plaintext) : null;

    /// <summary><c>ed25519_public(key)</c>.</summary>
    public static Bytes Ed25519Public(Ed25519Key key) => new(key.PublicKeyBytes());

    /// <summary><c>ed25519_sign(key, data)</c>.</summary>
    public static Bytes Ed25519Sign(Ed25519Key key, Bytes data) => new(Ed25519.Instance.Sign(key, data.Span));

    /// <summary><c>ed25519_verify(public_key, data, signature)</c>: false for any bad input.</summary>
    public static bool Ed25519Verify(Bytes publicKey, Bytes data, Bytes signature) => Ed25519.Instance.Verify(publicKey.Span, data.Span, signature.Span);

    /// <summary><c>x25519_public(key)</c>.</summary>
    public static Bytes X25519Public(X25519Key key) => new(key.PublicKeyBytes());

    /// <summary>
    /// <c>x25519_keypair()</c>: a fresh ephemeral key pair. The machine that makes one disposes it (wiping the private
    /// key) when the step that uses it ends, or, when later steps use it, when the handshake ends.
    /// </summary>
    public static X25519Key X25519Keypair(Handshakes.RandomSource random) => X25519.Instance.GenerateKey(random);

    /// <summary>The transcript before any message: 32 zero bytes.</summary>
    public static Bytes TranscriptStart { get; } = new(new byte[32]);

    /// <summary>
    /// The transcript after one more message: SHA-256(previous || SHA-256(canonical message)). <c>transcript()</c> is
    /// the chain over every message sent or received before the current step's own.
    /// </summary>
    public static Bytes TranscriptAppend(Bytes transcript, Bytes canonicalMessage)
    {
        Span<byte> buffer = stackalloc byte[64];
        transcript.Span.CopyTo(buffer);
        Digests.Sha256(canonicalMessage.Span).CopyTo(buffer[32..]);
        return new Bytes(Digests.Sha256(buffer));
    }

    /// <summary><c>transcript()</c>: the machine's transcript so far (see <see cref="TranscriptAppend"/>).</summary>
    public static Bytes Transcript(Bytes transcript) => transcript;

    /// <summary><c>x25519_agree(key, peer_public_key)</c>: the shared secret, or absent for a bad or low-order peer key.</summary>
    public static Bytes? X25519Agree(X25519Key key, Bytes peerPublicKey)
    {
        var shared = new byte[X25519.KeySize];
        return X25519.Instance.TryAgree(key, peerPublicKey.Span, shared) ? new Bytes(shared) : null;
    }

    /// <summary><c>utf8(text)</c>.</summary>
    public static Bytes Utf8(string text) => new(Encoding.UTF8.GetBytes(text));

    /// <summary><c>hex(data)</c>: lowercase hex.</summary>
    public static string Hex(Bytes data) => data.ToHex();

    /// <summary><c>base64(data)</c>.</summary>
    public static string Base64(Bytes data) => data.ToBase64();

    /// <summary><c>concat(a, b, ...)</c>.</summary>
    public static Bytes Concat(params Bytes[] parts)
    {
        var length = 0;
        foreach (var part in parts) length += part.Length;
        var result = new byte[length];
        var offset = 0;
        foreach (var part in parts)
        {
            part.Span.CopyTo(result.AsSpan(offset));
            offset += part.Length;
        }
        return new Bytes(result);
    }

    /// <summary><c>take(data, n)</c>: the first n bytes.</summary>
    public static Bytes Take(Bytes data, long count)
    {
        if (count < 0 || count > data.Length) throw new ArgumentOutOfRangeException(nameof(count), $"take({count}) of {data.Length} bytes");
        return Bytes.CopyFrom(data.Span[..(int)count]);
    }

    /// <summary><c>abs(x)</c>; saturates, so <c>abs</c> of the smallest int is the largest.</summary>
    public static long Abs(long value) => value == long.MinValue ? long.MaxValue : Math.Abs(value);

    /// <summary>
    /// <c>intersect(a, b)</c>: the items of <paramref name="a"/> that <paramref name="b"/> holds too, in
    /// <paramref name="a"/>'s order, each once: what two peers' capability lists have in common.
    /// </summary>
    public static IReadOnlyList<string> Intersect(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var result = new List<string>(Math.Min(a.Count, b.Count));
        for (var i = 0; i < a.Count; i++)
        {
            var item = a[i];
            if (result.Contains(item)) continue;
            for (var j = 0; j < b.Count; j++)
            {
                if (!string.Equals(b[j], item, StringComparison.Ordinal)) continue;
                result.Add(item);
                break;
            }
        }
        return result;
    }

    /// <summary><c>contains(list, item)</c>: whether the list holds the item (compared exactly).</summary>
    public static bool Contains(IReadOnlyList<string> list, string item)
    {
        for (var i = 0; i < list.Count; i++)
            if (string.Equals(list[i], item, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary><c>ratio(part, whole)</c>: <paramref name="part"/> / <paramref name="whole"/> as a decimal rounded to 4 places; 0 when <paramref name="whole"/> is not positive.</summary>
    public static decimal Ratio(long part, long whole) => whole <= 0 ? 0m : Math.Round((decimal)part / whole, 4, MidpointRounding.ToEven);

    /// <summary><c>abs(decimal)</c>.</summary>
    public static decimal Abs(decimal value) => Math.Abs(value);

    /// <summary><c>text(value)</c> of a decimal: its shortest exact form, invariant culture (0.94).</summary>
    public static string Text(decimal value) => (value / 1.000000000000000000000000000000000m).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary><c>abs(duration)</c>: its length, saturating (the most negative duration gives the largest).</summary>
    public static TimeSpan Abs(TimeSpan value) => new(Abs(value.Ticks));

    /// <summary>
    /// <c>fresh(t)</c>: whether <paramref name="time"/> is within <paramref name="clockSkew"/> of the step's clock,
    /// either way (a timestamp from the future is as suspect as a stale one).
    /// </summary>
    public static bool Fresh(DateTimeOffset stepClock, TimeSpan clockSkew, DateTimeOffset time)
        => Abs(Operators.Minus(stepClock, time)) <= clockSkew;

    /// <summary><c>seconds(duration)</c>: whole seconds, truncated toward zero.</summary>
    public static long Seconds(TimeSpan duration) => (long)duration.TotalSeconds;

    /// <summary><c>milliseconds(duration)</c>: whole milliseconds, truncated toward zero.</summary>
    public static long Milliseconds(TimeSpan duration) => duration.Ticks / TimeSpan.TicksPerMillisecond;

    /// <summary><c>unix_ms(t)</c>: milliseconds since the Unix epoch.</summary>
    public static long UnixMs(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    /// <summary><c>unix(t)</c>: seconds since the Unix epoch.</summary>
    public static long Unix(DateTimeOffset time) => time.ToUnixTimeSeconds();

    /// <summary>
    /// <c>pow_solve(challenge, difficulty)</c>: an 8-byte nonce such that <c>sha256(concat(challenge, nonce))</c>
    /// has <c>difficulty</c> (0 to 64) leading zero bits; about 2^difficulty hashes (see <see cref="Hashcash.Solve(System.ReadOnlySpan{byte}, int, Handshakes.RandomSource, CancellationToken)"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="difficulty"/> is not in 0..64.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public static Bytes PowSolve(Handshakes.RandomSource random, Bytes challenge, long difficulty, CancellationToken cancellationToken)
    {
        if (difficulty is < 0 or > Hashcash.MaxDifficulty)
            throw new ArgumentOutOfRangeException(nameof(difficulty), difficulty, $"pow_solve difficulty is 0 to {Hashcash.MaxDifficulty}");
        return new(Hashcash.Solve(challenge.Span, (int)difficulty, random, cancellationToken));
    }

    /// <summary>
    /// <c>pow_check(challenge, nonce, difficulty)</c>: whether the stamp has <c>difficulty</c> leading zero bits;
    /// false, not an error, for a difficulty outside 0..64 (it may come from the peer).
    /// </summary>
    public static bool PowCheck(Bytes challenge, Bytes nonce, long difficulty)
        => difficulty is >= 0 and <= Hashcash.MaxDifficulty && Hashcash.Check(challenge.Span, nonce.Span, (int)difficulty);

    /// <summary><c>merkle_root(leaves, salt)</c>: the 32-byte salted RFC 6962-shaped root (see <see cref="MerkleTree"/>).</summary>
    public static Bytes MerkleRoot(IReadOnlyList<Bytes> leaves, Bytes salt) => new(MerkleTree.Root(leaves, salt.Span));

    /// <summary><c>chunks(data, size)</c>: <c>data</c> in pieces of <c>size</c> bytes, the last one shorter; none for empty data.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is less than 1.</exception>
    public static IReadOnlyList<Bytes> Chunks(Bytes data, long size)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "chunks size is at least 1");
        return MerkleTree.Chunks(data.Span, (int)Math.Min(size, int.MaxValue));
    }
}
