using System;
using System.Collections.Generic;
using System.Text;
using System.Text.Json;
using Dsl.Runtime.Codecs;
using Xunit;

namespace Dsl.Runtime.Tests.Codecs;

/// <summary>Lists on the wire: an array of the item type is read whole; anything else is a typed error naming the field.</summary>
public sealed class JsonDecodingTests
{
    private delegate bool ListReader<T>(ref Utf8JsonReader reader, string message, string field, out IReadOnlyList<T> value, out DecodeError error);

    private static (bool Ok, IReadOnlyList<T> Value, DecodeError Error) Read<T>(string json, ListReader<T> read)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        reader.Read();
        var ok = read(ref reader, "hello", "items", out var value, out var error);
        return (ok, value, error);
    }

    [Fact]
    public void An_array_of_the_item_type_is_read_in_order()
    {
        Assert.Equal(new[] { "a", "b" }, Read<string>("[\"a\",\"b\"]", JsonDecoding.TryReadStringList).Value);
        Assert.Equal(new[] { 1L, -2L }, Read<long>("[1,-2]", JsonDecoding.TryReadInt64List).Value);
        var id = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");
        Assert.Equal(new[] { id }, Read<Guid>($"[\"{id}\"]", JsonDecoding.TryReadUuidList).Value);
        Assert.Empty(Read<long>("[]", JsonDecoding.TryReadInt64List).Value);
    }

    [Theory]
    [InlineData("\"a\"", "an array of strings")]
    [InlineData("[\"a\", 3]", "an array of strings")]
    public void Strings_that_are_not_an_array_of_strings_are_refused(string json, string expected)
        => AssertRefused(Read<string>(json, JsonDecoding.TryReadStringList), expected);

    [Theory]
    [InlineData("{}", "an array of integers")]
    [InlineData("[1, \"2\"]", "integer")]
    [InlineData("[1.5]", "integer")]
    public void Integers_that_are_not_an_array_of_integers_are_refused(string json, string expected)
        => AssertRefused(Read<long>(json, JsonDecoding.TryReadInt64List), expected);

    [Theory]
    [InlineData("7", "an array of UUIDs")]
    [InlineData("[\"not-a-uuid\"]", "UUID")]
    public void Uuids_that_are_not_an_array_of_uuids_are_refused(string json, string expected)
        => AssertRefused(Read<Guid>(json, JsonDecoding.TryReadUuidList), expected);

    private static void AssertRefused<T>((bool Ok, IReadOnlyList<T> Value, DecodeError Error) result, string expected)
    {
        Assert.False(result.Ok);
        Assert.Empty(result.Value);
        Assert.Equal("items", result.Error.Field);
        Assert.Contains(expected, result.Error.Detail);
    }
}
