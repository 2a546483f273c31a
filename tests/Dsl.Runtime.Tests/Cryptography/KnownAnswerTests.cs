using System;
using System.Linq;
using Dsl.Runtime.Cryptography;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Runtime.Tests.Cryptography;

/// <summary>
/// The runtime's crypto against published vectors, read in place from ../shared/vectors: RFC 8032 §7.1 byte
/// for byte, RFC 5869, and every case of the Wycheproof files, each giving its labelled result. The counts
/// are written to the test output.
/// </summary>
public sealed class KnownAnswerTests(ITestOutputHelper output)
{
    private void Report(Tally tally, string name, int expectedCases)
    {
        output.WriteLine(tally.Summary(name));
        Console.WriteLine("[vectors] " + tally.Summary(name));
        Assert.True(tally.Failures.Count == 0, string.Join("\n", tally.Failures.Take(20)));
        Assert.Equal(expectedCases, tally.Total);
    }

    [Fact]
    public void Ed25519_matches_RFC_8032_section_7_1_byte_for_byte()
    {
        var tally = new Tally();
        foreach (var test in Vectors.Load("rfc8032/rfc8032_ed25519_7.1.json").GetProperty("tests").EnumerateArray())
        {
            var name = test.GetProperty("name").GetString();
            using var key = Ed25519.Instance.ImportSeed(test.Hex("secretKey"));
            var message = test.Hex("message");
            var signature = Ed25519.Instance.Sign(key, message);
            if (!key.PublicKey.SequenceEqual(test.Hex("publicKey"))) tally.Fail($"{name}: public key differs");
            else if (!signature.SequenceEqual(test.Hex("signature"))) tally.Fail($"{name}: signature differs");
            else if (!Ed25519.Instance.Verify(key.PublicKey, message, signature)) tally.Fail($"{name}: does not verify");
            else tally.Pass("valid");
        }
        Report(tally, "RFC 8032 Ed25519", 5);
    }

    [Fact]
    public void Ed25519_verifies_every_Wycheproof_case_as_labelled()
    {
        var tally = new Tally();
        foreach (var (group, test) in Vectors.Wycheproof("ed25519_test.json"))
        {
            var publicKey = Convert.FromHexString(group.GetProperty("publicKey").GetProperty("pk").GetString()!);
            var valid = Ed25519.Instance.Verify(publicKey, test.Hex("msg"), test.Hex("sig"));
            var label = test.GetProperty("result").GetString()!;
            if (valid == (label == "valid")) tally.Pass(label);
            else tally.Fail($"tcId {test.GetProperty("tcId")}: {label} but Verify returned {valid} ({test.GetProperty("comment")})");
        }
        Report(tally, "Wycheproof Ed25519", 151);
    }

    [Fact]
    public void X25519_agrees_on_every_Wycheproof_case_as_labelled()
    {
        var tally = new Tally();
        foreach (var (_, test) in Vectors.Wycheproof("x25519_test.json"))
        {
            var label = test.GetProperty("result").GetString()!;
            using var key = X25519.Instance.ImportPrivateKey(test.Hex("private"));
            var shared = new byte[32];
            var agreed = X25519.Instance.TryAgree(key, test.Hex("public"), shared);
            // libsodium refuses an all-zero shared secret: those "acceptable" cases must be rejected.
            var mustReject = test.HasFlag("ZeroSharedSecret");
            if (mustReject)
            {
                if (!agreed) tally.Pass(label + " (zero secret rejected)");
                else tally.Fail($"tcId {test.GetProperty("tcId")}: zero shared secret accepted");
            }
            else if (agreed && shared.SequenceEqual(test.Hex("shared"))) tally.Pass(label);
            else tally.Fail($"tcId {test.GetProperty("tcId")}: {label} but agreed={agreed} ({test.GetProperty("comment")})");
        }
        Report(tally, "Wycheproof X25519", 518);
    }

    [Theory]
    [InlineData("chacha20_poly1305_test.json", 325)]
    [InlineData("aes_gcm_test.json", 316)]
    public void Aead_seals_and_opens_every_Wycheproof_case_as_labelled(string file, int cases)
    {
        var tally = new Tally();
        foreach (var (_, test) in Vectors.Wycheproof(file))
        {
            var label = test.GetProperty("result").GetString()!;
            var key = test.Hex("key");
            var nonce = test.Hex("iv");
            var aad = test.Hex("aad");
            var message = test.Hex("msg");
            var sealedExpected = test.Hex("ct").Concat(test.Hex("tag")).ToArray();
            var algorithm = file.StartsWith("chacha", StringComparison.Ordinal) ? AeadAlgorithm.ChaCha20Poly1305
                : key.Length switch { 16 => AeadAlgorithm.Aes128Gcm, 24 => AeadAlgorithm.Aes192Gcm, _ => AeadAlgorithm.Aes256Gcm };
            var opened = algorithm.Open(key, nonce, sealedExpected, aad);
            if (nonce.Length != algorithm.NonceSize)
            {
                // Only 12-byte nonces are supported: anything else must be refused, whatever its label.
                var sealRefused = Assert.ThrowsAny<ArgumentException>(() => algorithm.Seal(key, nonce, message, aad)) is not null;
                if (opened is null && sealRefused) tally.Pass($"{label} (unsupported nonce size, refused)");
                else tally.Fail($"tcId {test.GetProperty("tcId")}: a {nonce.Length}-byte nonce was accepted");
                continue;
            }
            if (label == "valid")
            {
                var sealedActual = algorithm.Seal(key, nonce, message, aad);
                if (sealedActual.SequenceEqual(sealedExpected) && opened is not null && opened.SequenceEqual(message)) tally.Pass(label);
                else tally.Fail($"tcId {test.GetProperty("tcId")}: valid case did not round-trip ({test.GetProperty("comment")})");
            }
            else if (opened is null) tally.Pass(label);
            else tally.Fail($"tcId {test.GetProperty("tcId")}: invalid ciphertext opened ({test.GetProperty("comment")})");
        }
        Report(tally, "Wycheproof " + file.Replace("_test.json", ""), cases);
    }

    [Fact]
    public void Hkdf_derives_every_Wycheproof_case_as_labelled()
    {
        var tally = new Tally();
        foreach (var (_, test) in Vectors.Wycheproof("hkdf_sha256_test.json"))
        {
            var label = test.GetProperty("result").GetString()!;
            var size = test.GetProperty("size").GetInt32();
            byte[]? okm;
            try
            {
                okm = HkdfSha256.DeriveKey(test.Hex("ikm"), test.Hex("salt"), test.Hex("info"), size);
            }
            catch (ArgumentException)
            {
                okm = null;
            }
            if (label == "valid" && okm is not null && okm.SequenceEqual(test.Hex("okm"))) tally.Pass(label);
            else if (label == "invalid" && okm is null) tally.Pass(label);
            else tally.Fail($"tcId {test.GetProperty("tcId")}: {label} ({test.GetProperty("comment")})");
        }
        Report(tally, "Wycheproof HKDF-SHA256", 86);
    }

    [Fact]
    public void Hkdf_matches_RFC_5869_appendix_A()
    {
        var tally = new Tally();
        foreach (var test in Vectors.Load("rfc5869/rfc5869_hkdf_sha256.json").GetProperty("tests").EnumerateArray())
        {
            var ikm = test.Hex("ikm");
            var salt = test.Hex("salt");
            var prk = HkdfSha256.Extract(ikm, salt);
            var okm = HkdfSha256.DeriveKey(ikm, salt, test.Hex("info"), test.GetProperty("L").GetInt32());
            if (prk.SequenceEqual(test.Hex("prk")) && okm.SequenceEqual(test.Hex("okm"))) tally.Pass("valid");
            else tally.Fail(test.GetProperty("testCase").GetString()!);
        }
        Report(tally, "RFC 5869 HKDF-SHA256", 3);
    }

    [Fact]
    public void Hmac_verifies_every_Wycheproof_case_as_labelled()
    {
        var tally = new Tally();
        foreach (var (group, test) in Vectors.Wycheproof("hmac_sha256_test.json"))
        {
            var label = test.GetProperty("result").GetString()!;
            var tag = test.Hex("tag");
            var verified = HmacSha256.Verify(test.Hex("key"), test.Hex("msg"), tag);
            var computedMatches = group.GetProperty("tagSize").GetInt32() != 256
                || HmacSha256.Compute(test.Hex("key"), test.Hex("msg")).SequenceEqual(tag) == (label == "valid");
            if (verified == (label == "valid") && computedMatches) tally.Pass(label);
            else tally.Fail($"tcId {test.GetProperty("tcId")}: {label} but Verify returned {verified} ({test.GetProperty("comment")})");
        }
        Report(tally, "Wycheproof HMAC-SHA256", 174);
    }

    [Fact]
    public void Libsodium_loads_through_the_gate_from_the_runtime_package_name()
    {
        Assert.Matches(@"^\d+\.\d+\.\d+", Sodium.Version);
    }

    [Fact]
    public void A_missing_libsodium_is_an_error_that_says_which_package_to_install()
    {
        var error = Sodium.MissingLibrary(new DllNotFoundException("libsodium"));
        Assert.IsType<PlatformNotSupportedException>(error);
        Assert.Contains("apt-get install libsodium23", error.Message);
        Assert.Contains("libsodium.so.23", error.Message);
        Assert.IsType<DllNotFoundException>(error.InnerException);
    }

    [Fact]
    public void The_x25519_builtins_give_both_sides_the_same_secret_and_refuse_a_low_order_key()
    {
        using var a = X25519.Instance.GenerateKey();
        using var b = X25519.Instance.GenerateKey();
        var ab = Dsl.Runtime.Expressions.Builtins.X25519Agree(a, Dsl.Runtime.Expressions.Builtins.X25519Public(b));
        var ba = Dsl.Runtime.Expressions.Builtins.X25519Agree(b, Dsl.Runtime.Expressions.Builtins.X25519Public(a));
        Assert.NotNull(ab);
        Assert.Equal(ab, ba);
        Assert.Null(Dsl.Runtime.Expressions.Builtins.X25519Agree(a, new Dsl.Runtime.Codecs.Bytes(new byte[32])));
    }

    [Fact]
    public void Secrets_and_lengths_are_checked_up_front()
    {
        Assert.Throws<ArgumentException>(() => Ed25519.Instance.ImportSeed(new byte[31]));
        using var key = Ed25519.Instance.GenerateKey();
        Assert.False(Ed25519.Instance.Verify(key.PublicKey[..31], "x"u8, new byte[64]));
        Assert.False(Ed25519.Instance.Verify(key.PublicKey, "x"u8, new byte[63]));
        var signature = Ed25519.Instance.Sign(key, "hello"u8);
        Assert.True(Ed25519.Instance.Verify(key.PublicKey, "hello"u8, signature));
        signature[10] ^= 1;
        Assert.False(Ed25519.Instance.Verify(key.PublicKey, "hello"u8, signature));
        key.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Ed25519.Instance.Sign(key, "hello"u8));
        Assert.Null(AeadAlgorithm.ChaCha20Poly1305.Open(new byte[32], new byte[12], new byte[15]));
    }
}
