using System;
using System.Collections.Generic;
using System.Security.Cryptography;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Xunit;

namespace Dsl.Runtime.Tests.Cryptography;

/// <summary>The salted RFC 6962 tree, held to roots computed here by hand from SHA-256.</summary>
public sealed class MerkleTreeTests
{
    private static readonly byte[] Salt = Convert.FromHexString("5a17000000000000000000000000000000000000000000000000000000005a17");
    private static readonly Bytes A = Bytes.FromHex("61");
    private static readonly Bytes B = Bytes.FromHex("6262");
    private static readonly Bytes C = Bytes.FromHex("636363");
    private static readonly Bytes D = Bytes.FromHex("64646464");

    private static byte[] Leaf(Bytes leaf) => SHA256.HashData([0x00, .. Salt, .. leaf.Span]);

    private static byte[] Node(byte[] left, byte[] right) => SHA256.HashData([0x01, .. left, .. right]);

    [Fact]
    public void One_leaf_is_its_leaf_hash()
        => Assert.Equal(Leaf(A), MerkleTree.Root([A], Salt));

    [Fact]
    public void Two_leaves_are_one_node()
        => Assert.Equal(Node(Leaf(A), Leaf(B)), MerkleTree.Root([A, B], Salt));

    [Fact]
    public void Three_leaves_split_two_and_one_and_the_odd_leaf_is_carried_up()
        => Assert.Equal(Node(Node(Leaf(A), Leaf(B)), Leaf(C)), MerkleTree.Root([A, B, C], Salt));

    [Fact]
    public void Five_leaves_split_at_four()
    {
        var e = Bytes.FromHex("65");
        var expected = Node(Node(Node(Leaf(A), Leaf(B)), Node(Leaf(C), Leaf(D))), Leaf(e));
        Assert.Equal(expected, MerkleTree.Root([A, B, C, D, e], Salt));
    }

    [Fact]
    public void The_empty_list_is_the_tagged_salt()
        => Assert.Equal(SHA256.HashData([0x02, .. Salt]), MerkleTree.Root(Array.Empty<Bytes>(), Salt));

    [Fact]
    public void Repeating_the_last_leaf_changes_the_root()
        => Assert.NotEqual(MerkleTree.Root([A, B, C], Salt), MerkleTree.Root([A, B, C, C], Salt));

    [Fact]
    public void Another_salt_gives_another_root()
    {
        var otherSalt = (byte[])Salt.Clone();
        otherSalt[0] ^= 1;
        Assert.NotEqual(MerkleTree.Root([A, B, C], Salt), MerkleTree.Root([A, B, C], otherSalt));
        Assert.NotEqual(MerkleTree.Root(Array.Empty<Bytes>(), Salt), MerkleTree.Root(Array.Empty<Bytes>(), otherSalt));
    }

    [Fact]
    public void A_node_is_not_a_leaf_of_its_childrens_hashes()
    {
        // Without domain tags, the leaf [hash(a) || hash(b)] would hash like the node over a and b.
        var twoLeaves = MerkleTree.Root([A, B], Salt);
        var forgedLeaf = new Bytes([.. Leaf(A), .. Leaf(B)]);
        Assert.NotEqual(twoLeaves, MerkleTree.Root([forgedLeaf], Salt));
        Assert.NotEqual(twoLeaves, MerkleTree.Root([forgedLeaf], ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void Order_matters()
        => Assert.NotEqual(MerkleTree.Root([A, B], Salt), MerkleTree.Root([B, A], Salt));

    [Theory]
    [InlineData(0, 4, new int[0])]
    [InlineData(1, 4, new[] { 1 })]
    [InlineData(8, 4, new[] { 4, 4 })]
    [InlineData(9, 4, new[] { 4, 4, 1 })]
    [InlineData(3, 1, new[] { 1, 1, 1 })]
    [InlineData(5, int.MaxValue, new[] { 5 })]
    public void Chunks_split_in_order_with_a_shorter_last_one(int length, int chunkSize, int[] lengths)
    {
        var data = new byte[length];
        for (var i = 0; i < length; i++) data[i] = (byte)i;

        var chunks = MerkleTree.Chunks(data, chunkSize);

        Assert.Equal(lengths.Length, chunks.Count);
        var joined = new List<byte>();
        for (var i = 0; i < chunks.Count; i++)
        {
            Assert.Equal(lengths[i], chunks[i].Length);
            joined.AddRange(chunks[i].ToArray());
        }
        Assert.Equal(data, joined.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void A_chunk_size_below_one_is_refused(int chunkSize)
        => Assert.Throws<ArgumentOutOfRangeException>(() => MerkleTree.Chunks(new byte[3], chunkSize));
}
