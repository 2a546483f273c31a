using System;
using System.Collections.Generic;
using System.Numerics;
using System.Security.Cryptography;
using Dsl.Runtime.Codecs;

namespace Dsl.Runtime.Cryptography;

/// <summary>
/// A salted Merkle tree over SHA-256 in the shape of RFC 6962 §2.1 (Certificate Transparency): a list
/// of n &gt; 1 leaves splits at the largest power of two smaller than n, so an odd leaf is carried up,
/// never paired with a copy of itself, and [a, b, c] and [a, b, c, c] have different roots (unlike the
/// duplicate-last-node trees of CVE-2012-2459).
/// </summary>
/// <remarks>
/// <para>Hashes, with one-byte domain tags so that a leaf can never be taken for a node:</para>
/// <list type="bullet">
/// <item>a leaf: SHA-256(0x00 || salt || leaf);</item>
/// <item>a node: SHA-256(0x01 || left || right);</item>
/// <item>the empty list: SHA-256(0x02 || salt) (RFC 6962 uses the hash of the empty string; the tag keeps
/// it apart from every leaf and node and binds it to the salt).</item>
/// </list>
/// <para>The salt is not length-prefixed: a protocol should fix its length (32 random bytes, say), so that
/// salt and leaf cannot trade bytes between two trees.</para>
/// </remarks>
public static class MerkleTree
{
    /// <summary>The length of a root.</summary>
    public const int HashSize = 32;

    private const byte LeafTag = 0x00;
    private const byte NodeTag = 0x01;
    private const byte EmptyTag = 0x02;

    /// <summary>The root of the tree over <paramref name="leaves"/>, in order, salted with <paramref name="salt"/>.</summary>
    public static byte[] Root(IReadOnlyList<Bytes> leaves, ReadOnlySpan<byte> salt)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        var root = new byte[HashSize];
        // One hasher for the whole tree: no allocation per leaf or node.
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        if (leaves.Count == 0)
        {
            hash.AppendData([EmptyTag]);
            hash.AppendData(salt);
            hash.GetHashAndReset(root);
        }
        else
        {
            Subtree(hash, leaves, 0, leaves.Count, salt, root);
        }
        return root;
    }

    /// <summary>
    /// Splits <paramref name="data"/> into chunks of <paramref name="chunkSize"/> bytes, the last one
    /// shorter if the length is not a multiple; no chunks at all for empty data.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="chunkSize"/> is less than 1.</exception>
    public static IReadOnlyList<Bytes> Chunks(ReadOnlySpan<byte> data, int chunkSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        var chunks = new Bytes[(int)(((long)data.Length + chunkSize - 1) / chunkSize)];
        for (var i = 0; i < chunks.Length; i++)
        {
            var start = i * chunkSize;
            chunks[i] = Bytes.CopyFrom(data.Slice(start, Math.Min(chunkSize, data.Length - start)));
        }
        return chunks;
    }

    // RFC 6962's MTH(D[start : start + count]) into destination; count >= 1.
    private static void Subtree(IncrementalHash hash, IReadOnlyList<Bytes> leaves, int start, int count, ReadOnlySpan<byte> salt, Span<byte> destination)
    {
        if (count == 1)
        {
            hash.AppendData([LeafTag]);
            hash.AppendData(salt);
            hash.AppendData(leaves[start].Span);
            hash.GetHashAndReset(destination);
            return;
        }
        // The largest power of two smaller than count.
        var split = (int)(BitOperations.RoundUpToPowerOf2((uint)count) >> 1);
        Span<byte> children = stackalloc byte[2 * HashSize];
        Subtree(hash, leaves, start, split, salt, children[..HashSize]);
        Subtree(hash, leaves, start + split, count - split, salt, children[HashSize..]);
        hash.AppendData([NodeTag]);
        hash.AppendData(children);
        hash.GetHashAndReset(destination);
    }
}
