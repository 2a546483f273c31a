using System;
using System.Buffers;
using System.Text;
using System.Text.Json;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Expressions;
using Dsl.Runtime.Handshakes;
using Xunit;

namespace Dsl.Runtime.Tests.Expressions;

/// <summary>
/// Durations, timestamps moved by them and decimals, as generated code computes them: arithmetic saturates rather
/// than throwing (a hostile timestamp fails its check, not the machine), and decimals keep their exact value.
/// </summary>
public sealed class TimeAndDecimalTests
{
    private static readonly DateTimeOffset Noon = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_timestamp_moves_by_a_duration_and_two_timestamps_differ_by_one()
    {
        Assert.Equal(Noon.AddMinutes(5), Operators.Plus(Noon, TimeSpan.FromMinutes(5)));
        Assert.Equal(Noon.AddMinutes(-5), Operators.Minus(Noon, TimeSpan.FromMinutes(5)));
        Assert.Equal(TimeSpan.FromSeconds(-30), Operators.Minus(Noon, Noon.AddSeconds(30)));
    }

    [Fact]
    public void Moving_a_timestamp_past_the_ends_of_time_saturates()
    {
        Assert.Equal(DateTimeOffset.MaxValue, Operators.Plus(Noon, TimeSpan.MaxValue));
        Assert.Equal(DateTimeOffset.MinValue, Operators.Minus(Noon, TimeSpan.MaxValue));
        Assert.Equal(DateTimeOffset.MaxValue, Operators.Minus(Noon, TimeSpan.MinValue));
        Assert.Equal(TimeSpan.MaxValue, Operators.Plus(TimeSpan.MaxValue, TimeSpan.FromTicks(1)));
        Assert.Equal(TimeSpan.MaxValue, Builtins.Abs(TimeSpan.MinValue));
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(300, true)]
    [InlineData(-300, true)]
    [InlineData(301, false)]
    [InlineData(-301, false)]
    public void Fresh_allows_the_skew_either_way(int offsetSeconds, bool fresh)
        => Assert.Equal(fresh, Builtins.Fresh(Noon, TimeSpan.FromSeconds(300), Noon.AddSeconds(offsetSeconds)));

    [Fact]
    public void Fresh_refuses_the_earliest_and_latest_timestamps_without_throwing()
    {
        Assert.False(Builtins.Fresh(Noon, TimeSpan.FromSeconds(300), DateTimeOffset.MinValue));
        Assert.False(Builtins.Fresh(Noon, TimeSpan.FromSeconds(300), DateTimeOffset.MaxValue));
    }

    [Fact]
    public void Decimal_arithmetic_is_exact_and_saturates()
    {
        Assert.Equal(1.44m, Operators.Plus(0.94m, 0.5m));
        Assert.Equal(decimal.MaxValue, Operators.Plus(decimal.MaxValue, 1m));
        Assert.Equal(decimal.MinValue, Operators.Minus(decimal.MinValue, 1m));
        Assert.Equal(0.94m, Builtins.Abs(-0.94m));
    }

    [Theory]
    [InlineData("0.9400", "0.94")]
    [InlineData("1.0", "1")]
    [InlineData("-12.500", "-12.5")]
    public void A_decimal_is_written_in_its_shortest_exact_form(string value, string text)
    {
        var number = decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(text, Builtins.Text(number));
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            JsonEncoding.WriteDecimal(writer, "stability"u8, number);
            writer.WriteEndObject();
        }
        Assert.Equal($"{{\"stability\":{text}}}", Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    [Theory]
    [InlineData("0.94", true)]
    [InlineData("1e2", true)]
    [InlineData("\"0.94\"", false)]
    [InlineData("1e400", false)]
    public void A_decimal_is_read_from_a_json_number_that_fits(string json, bool fits)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        reader.Read();
        Assert.Equal(fits, JsonDecoding.TryReadDecimal(ref reader, "m", "f", out _, out var error));
        if (!fits) Assert.Contains("decimal", error.Detail);
    }

    [Fact]
    public void Durations_and_decimals_survive_a_state_export()
    {
        using var writer = new HandshakeStateWriter();
        writer.WriteDuration(TimeSpan.FromMilliseconds(1500));
        writer.WriteDuration(null);
        writer.WriteDecimal(0.94m);
        writer.WriteDecimal(null);
        var reader = new HandshakeStateReader(writer.WrittenSpan.ToArray());
        Assert.Equal(TimeSpan.FromMilliseconds(1500), reader.ReadDuration());
        Assert.Null(reader.ReadDuration());
        Assert.Equal(0.94m, reader.ReadDecimal());
        Assert.Null(reader.ReadDecimal());
    }
}
