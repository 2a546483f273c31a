using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;

namespace Dsl.Runtime.Codecs;

/// <summary>
/// The JSON Canonicalization Scheme of RFC 8785 (JCS): the same JSON value always yields the same bytes, so a
/// value can be hashed or signed. Whitespace is dropped; object members are sorted by their names compared as
/// arrays of UTF-16 code units; strings are written with the minimal escaping of RFC 8785 §3.2.2.2 (only
/// <c>"</c>, <c>\</c> and U+0000–U+001F are escaped, everything else is literal UTF-8); numbers are written as
/// ECMAScript's <c>Number.prototype.toString</c> writes the IEEE-754 double they denote (§3.2.2.3).
/// </summary>
/// <remarks>
/// Input must be strict RFC 8259 JSON in UTF-8: no comments, no trailing commas, nothing after the value, no
/// invalid UTF-8, nesting at most 64 deep. It is refused, in addition, when an object names a member twice
/// (compared after unescaping), when a number is outside the finite range of a double, and when a string holds
/// a lone surrogate (<c>"\ud800"</c>), none of which has a canonical form.
/// </remarks>
public static class JsonCanonicalizer
{
    /// <summary>The largest number of bytes <see cref="FormatNumber(double, Span{byte})"/> writes.</summary>
    internal const int MaxNumberLength = 32;

    private static readonly SearchValues<char> s_mustEscape = SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000a\u000b\u000c\u000d\u000e\u000f" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\"\\");

    /// <summary>Canonicalizes a UTF-8 JSON text.</summary>
    /// <param name="utf8Json">The JSON text, in UTF-8.</param>
    /// <returns>The canonical form, in UTF-8, without a trailing newline.</returns>
    /// <exception cref="FormatException">The input is not valid JSON or has no canonical form.</exception>
    public static byte[] Canonicalize(ReadOnlySpan<byte> utf8Json) => Canonicalize(utf8Json, exactNumbers: false);

    /// <summary>Canonicalizes a UTF-8 JSON text; with <paramref name="exactNumbers"/>, a number a double cannot hold exactly is refused.</summary>
    /// <exception cref="FormatException">The input is not valid JSON, has no canonical form, or (exactly) holds such a number.</exception>
    public static byte[] Canonicalize(ReadOnlySpan<byte> utf8Json, bool exactNumbers)
    {
        var state = new State(utf8Json.Length) { ExactNumbers = exactNumbers };
        try
        {
            if (!state.Run(utf8Json, out var error)) throw new FormatException(error);
            return state.Written.ToArray();
        }
        finally
        {
            state.Dispose();
        }
    }

    /// <summary>Canonicalizes a UTF-8 JSON text into <paramref name="output"/>.</summary>
    /// <param name="utf8Json">The JSON text, in UTF-8.</param>
    /// <param name="output">Receives the canonical form, in UTF-8; nothing is written when the input is refused.</param>
    /// <exception cref="FormatException">The input is not valid JSON or has no canonical form.</exception>
    public static void Canonicalize(ReadOnlySpan<byte> utf8Json, IBufferWriter<byte> output)
    {
        if (!TryCanonicalize(utf8Json, output, out var error)) throw new FormatException(error);
    }

    /// <summary>
    /// Canonicalizes a UTF-8 JSON text into <paramref name="output"/>, reporting bad input instead of throwing:
    /// invalid JSON, duplicate member names, numbers that are not finite doubles and lone surrogates.
    /// </summary>
    /// <param name="utf8Json">The JSON text, in UTF-8.</param>
    /// <param name="output">Receives the canonical form, in UTF-8; nothing is written when the input is refused.</param>
    /// <param name="error">Why the input was refused, or <see langword="null"/> on success.</param>
    /// <returns>Whether the input was canonicalized.</returns>
    public static bool TryCanonicalize(ReadOnlySpan<byte> utf8Json, IBufferWriter<byte> output, out string? error)
        => TryCanonicalize(utf8Json, output, exactNumbers: false, out error);

    /// <summary>
    /// Canonicalizes as <see cref="TryCanonicalize(ReadOnlySpan{byte}, IBufferWriter{byte}, out string?)"/>; with
    /// <paramref name="exactNumbers"/>, a number a double cannot hold exactly (an integer beyond 2^53, a decimal with
    /// more digits than a double keeps) is refused instead of rounded: what is signed is then what a decoder reads.
    /// Plain RFC 8785 rounds it (its own test vectors do); a verifier of signed messages should not.
    /// </summary>
    public static bool TryCanonicalize(ReadOnlySpan<byte> utf8Json, IBufferWriter<byte> output, bool exactNumbers, out string? error)
    {
        ArgumentNullException.ThrowIfNull(output);
        // What a canonical writer sent (every signed payload of this runtime) is kept as it is, not rewritten.
        if (IsCanonical(utf8Json))
        {
            output.Write(utf8Json);
            error = null;
            return true;
        }
        var state = new State(utf8Json.Length) { ExactNumbers = exactNumbers };
        try
        {
            if (!state.Run(utf8Json, out error)) return false;
            output.Write(state.Written);
            return true;
        }
        finally
        {
            state.Dispose();
        }
    }

    /// <summary>
    /// Whether <paramref name="utf8Json"/> is already its own canonical form, found in one pass without writing: no
    /// whitespace, members in order and each named once, numbers as canonical integers. Conservative: text it does not
    /// check cheaply is answered no even when canonical (an escape, a fraction or exponent, an integer of more than 15
    /// digits, a member name outside ASCII), and the canonicalizer then rewrites it.
    /// </summary>
    internal static bool IsCanonical(ReadOnlySpan<byte> utf8Json)
    {
        var form = new CanonicalForm(0);
        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = CanonicalForm.MaxDepth });
        try
        {
            while (reader.Read())
                if (!form.Next(ref reader, utf8Json)) return false;
            return form.End == utf8Json.Length;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Follows JSON text token by token and says whether it is its own canonical form (see <see cref="IsCanonical"/>):
    /// what a reader that is going through the text anyway (a signed envelope's, over its payload) can tell on the way.
    /// </summary>
    internal struct CanonicalForm
    {
        /// <summary>The deepest nesting followed; deeper text is not taken as canonical.</summary>
        public const int MaxDepth = 64;

        // Per open object or array: where its last member name starts and how long it is (-1: none yet, or an array).
        private Levels _lastStart;
        private Levels _lastLength;
        private int _depth;

        /// <param name="start">Where in the text the first token is.</param>
        public CanonicalForm(long start) => End = start;

        /// <summary>Where the last token seen ends.</summary>
        public long End { get; private set; }

        /// <summary>Whether every token so far is as the canonical form writes it.</summary>
        public bool IsCanonical { get; private set; } = true;

        /// <summary>Takes the token the reader is on; false (from then on) once the text is not canonical.</summary>
        public bool Next(ref Utf8JsonReader reader, ReadOnlySpan<byte> json)
        {
            if (!IsCanonical) return false;
            var start = reader.TokenStartIndex;
            // Between two tokens: nothing, or the one comma or colon JSON needs.
            if (start != End && (start != End + 1 || json[(int)End] is not ((byte)',' or (byte)':'))) return IsCanonical = false;
            var value = reader.ValueSpan;
            long length;
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                case JsonTokenType.StartArray:
                    if (++_depth > MaxDepth) return IsCanonical = false;
                    _lastStart[_depth] = -1;
                    _lastLength[_depth] = -1;
                    length = 1;
                    break;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    _depth--;
                    length = 1;
                    break;
                case JsonTokenType.PropertyName:
                    if (reader.ValueIsEscaped || !System.Text.Ascii.IsValid(value)) return IsCanonical = false;
                    var nameStart = (int)start + 1;
                    if (_lastLength[_depth] >= 0 && value.SequenceCompareTo(json.Slice(_lastStart[_depth], _lastLength[_depth])) <= 0) return IsCanonical = false;
                    _lastStart[_depth] = nameStart;
                    _lastLength[_depth] = value.Length;
                    // The name, its quotes and the colon right after it.
                    length = value.Length + 3;
                    break;
                case JsonTokenType.String:
                    if (reader.ValueIsEscaped || !Utf8.IsValid(value)) return IsCanonical = false;
                    length = value.Length + 2;
                    break;
                case JsonTokenType.Number:
                    if (!IsCanonicalInteger(value)) return IsCanonical = false;
                    length = value.Length;
                    break;
                default:
                    length = value.Length;
                    break;
            }
            if (reader.BytesConsumed != start + length) return IsCanonical = false;
            End = reader.BytesConsumed;
            return true;
        }

        // -?(0|[1-9][0-9]{0,14}), not -0: an integer a double holds exactly, written as ECMAScript writes it.
        private static bool IsCanonicalInteger(ReadOnlySpan<byte> number)
        {
            var digits = number.Length > 0 && number[0] == (byte)'-' ? number[1..] : number;
            if (digits.IsEmpty || digits.Length > 15 || digits.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0) return false;
            return digits[0] != (byte)'0' || (digits.Length == 1 && digits.Length == number.Length);
        }

        [System.Runtime.CompilerServices.InlineArray(MaxDepth + 1)]
        private struct Levels
        {
            private int _level;
        }
    }

    /// <summary>
    /// Canonicalizes a JSON object leaving out some of its top-level members: the bytes a signature carried inside
    /// the object covers (a signed envelope's <c>unsigned</c>). The left-out members are still read, so invalid JSON
    /// or a repeated name among them is refused as anywhere else.
    /// </summary>
    /// <param name="utf8Json">A JSON object, in UTF-8.</param>
    /// <param name="omitted">The names of the top-level members to leave out.</param>
    /// <param name="output">Receives the canonical form of the rest; nothing is written when the input is refused.</param>
    /// <param name="error">Why the input was refused (not an object included), or <see langword="null"/> on success.</param>
    /// <remarks>Numbers must be exact doubles here (see <see cref="TryCanonicalize(ReadOnlySpan{byte}, IBufferWriter{byte}, bool, out string?)"/>): these are signed bytes.</remarks>
    public static bool TryCanonicalizeWithout(ReadOnlySpan<byte> utf8Json, ReadOnlySpan<string> omitted, IBufferWriter<byte> output, out string? error)
    {
        ArgumentNullException.ThrowIfNull(output);
        var state = new State(utf8Json.Length) { Omitted = omitted.ToArray(), ExactNumbers = true };
        try
        {
            if (!state.Run(utf8Json, out error)) return false;
            if (state.Written.Length == 0 || state.Written[0] != (byte)'{')
            {
                error = "The value is not an object.";
                return false;
            }
            output.Write(state.Written);
            return true;
        }
        finally
        {
            state.Dispose();
        }
    }

    /// <summary>
    /// Writes a finite double as ECMAScript's <c>Number.prototype.toString</c> does (RFC 8785 §3.2.2.3): the
    /// shortest digits that round-trip, in plain notation when the decimal exponent is in [-6, 21), else as
    /// <c>d.ddde±x</c>; negative zero is <c>0</c>.
    /// </summary>
    /// <param name="value">A finite double.</param>
    /// <param name="destination">At least <see cref="MaxNumberLength"/> bytes.</param>
    /// <returns>The number of bytes written.</returns>
    internal static int FormatNumber(double value, Span<byte> destination)
    {
        if (!double.IsFinite(value)) throw new ArgumentOutOfRangeException(nameof(value), "Only finite numbers have a JSON form.");
        if (value == 0)
        {
            destination[0] = (byte)'0';
            return 1;
        }

        // .NET's "R" is the shortest round-tripping form, as [-]digits[.digits][E(+|-)exponent].
        Span<byte> shortest = stackalloc byte[MaxNumberLength];
        if (!value.TryFormat(shortest, out var length, "R", CultureInfo.InvariantCulture))
            throw new InvalidOperationException("A double did not fit its shortest form in " + MaxNumberLength + " bytes.");
        shortest = shortest[..length];

        var position = 0;
        var negative = shortest[0] == (byte)'-';
        if (negative) position++;

        // The mantissa's digits, and how many of them come before the decimal point.
        Span<byte> digits = stackalloc byte[MaxNumberLength];
        var count = 0;
        var beforePoint = -1;
        for (; position < shortest.Length; position++)
        {
            var c = shortest[position];
            if (c == (byte)'.') beforePoint = count;
            else if (c is >= (byte)'0' and <= (byte)'9') digits[count++] = c;
            else break;
        }
        if (beforePoint < 0) beforePoint = count;

        var exponent = 0;
        if (position < shortest.Length)
        {
            position++; // 'E'
            var negativeExponent = false;
            if (shortest[position] == (byte)'-') { negativeExponent = true; position++; }
            else if (shortest[position] == (byte)'+') position++;
            for (; position < shortest.Length; position++) exponent = exponent * 10 + (shortest[position] - '0');
            if (negativeExponent) exponent = -exponent;
        }

        // value = d1..dk × 10^(n−k): drop leading zeros (each lowers n) and trailing zeros.
        var n = beforePoint + exponent;
        var start = 0;
        while (digits[start] == (byte)'0') { start++; n--; }
        var end = count;
        while (digits[end - 1] == (byte)'0') end--;
        var d = digits[start..end];
        var k = d.Length;

        var w = 0;
        if (negative) destination[w++] = (byte)'-';
        if (k <= n && n <= 21)
        {
            d.CopyTo(destination[w..]);
            w += k;
            destination.Slice(w, n - k).Fill((byte)'0');
            w += n - k;
        }
        else if (0 < n && n <= 21)
        {
            d[..n].CopyTo(destination[w..]);
            w += n;
            destination[w++] = (byte)'.';
            d[n..].CopyTo(destination[w..]);
            w += k - n;
        }
        else if (-6 < n && n <= 0)
        {
            destination[w++] = (byte)'0';
            destination[w++] = (byte)'.';
            destination.Slice(w, -n).Fill((byte)'0');
            w += -n;
            d.CopyTo(destination[w..]);
            w += k;
        }
        else
        {
            destination[w++] = d[0];
            if (k > 1)
            {
                destination[w++] = (byte)'.';
                d[1..].CopyTo(destination[w..]);
                w += k - 1;
            }
            destination[w++] = (byte)'e';
            var e = n - 1;
            destination[w++] = e < 0 ? (byte)'-' : (byte)'+';
            if (e < 0) e = -e;
            if (e >= 100) destination[w++] = (byte)('0' + e / 100);
            if (e >= 10) destination[w++] = (byte)('0' + e / 10 % 10);
            destination[w++] = (byte)('0' + e % 10);
        }
        return w;
    }

    /// <summary>The ECMAScript form of a finite double, as a string.</summary>
    /// <summary>The most bytes <see cref="FormatString"/> writes for <paramref name="length"/> UTF-16 code units: 6 each (<c>\u001f</c>) and 2 quotes.</summary>
    internal static int MaxStringLength(int length) => length * 6 + 2;

    /// <summary>
    /// Writes <paramref name="text"/> quoted and escaped per RFC 8785 §3.2.2.2 (only <c>"</c>, <c>\</c> and U+0000–U+001F
    /// escaped, the short forms where JSON has them, everything else literal UTF-8) into <paramref name="destination"/>,
    /// which holds at least <see cref="MaxStringLength"/> bytes. Returns the bytes written, or -1 when the text holds a
    /// lone surrogate, which has no canonical form.
    /// </summary>
    internal static int FormatString(ReadOnlySpan<char> text, Span<byte> destination)
    {
        var w = 0;
        destination[w++] = (byte)'"';
        while (!text.IsEmpty)
        {
            var next = text.IndexOfAny(s_mustEscape);
            var run = next < 0 ? text : text[..next];
            if (!run.IsEmpty)
            {
                // Runs end before an ASCII character, so they never split a surrogate pair.
                if (Utf8.FromUtf16(run, destination[w..], out _, out var written, replaceInvalidSequences: false) != OperationStatus.Done) return -1;
                w += written;
            }
            if (next < 0) break;
            var c = text[next];
            destination[w++] = (byte)'\\';
            switch (c)
            {
                case '"': destination[w++] = (byte)'"'; break;
                case '\\': destination[w++] = (byte)'\\'; break;
                case '\b': destination[w++] = (byte)'b'; break;
                case '\t': destination[w++] = (byte)'t'; break;
                case '\n': destination[w++] = (byte)'n'; break;
                case '\f': destination[w++] = (byte)'f'; break;
                case '\r': destination[w++] = (byte)'r'; break;
                default:
                    destination[w++] = (byte)'u';
                    destination[w++] = (byte)'0';
                    destination[w++] = (byte)'0';
                    destination[w++] = (byte)"0123456789abcdef"[c >> 4];
                    destination[w++] = (byte)"0123456789abcdef"[c & 0xF];
                    break;
            }
            text = text[(next + 1)..];
        }
        destination[w++] = (byte)'"';
        return w;
    }

    internal static string FormatNumber(double value)
    {
        Span<byte> buffer = stackalloc byte[MaxNumberLength];
        var length = FormatNumber(value, buffer);
        return System.Text.Encoding.ASCII.GetString(buffer[..length]);
    }

    /// <summary>An object member being sorted: its unescaped name in the char arena, its canonical value in the byte arena.</summary>
    private struct Member
    {
        public int NameStart;
        public int NameLength;
        public int ValueStart;
        public int ValueLength;
    }

    /// <summary>Orders members by their names as arrays of UTF-16 code units.</summary>
    private readonly struct NameOrder(char[] chars) : IComparer<Member>
    {
        public int Compare(Member x, Member y)
            => chars.AsSpan(x.NameStart, x.NameLength).SequenceCompareTo(chars.AsSpan(y.NameStart, y.NameLength));
    }

    /// <summary>
    /// Pooled arenas for one canonicalization. Canonical bytes accumulate in <see cref="_bytes"/>: an array's
    /// elements are written in place; an object's member values are written one after another, then the sorted
    /// object is written after them and moved down over them. Member names and the members themselves are stacks
    /// that each object pops when it is done.
    /// </summary>
    private struct State
    {
        private byte[] _bytes;
        private int _byteCount;
        private char[] _chars;
        private int _charCount;
        private Member[] _members;
        private int _memberCount;
        private int _depth;

        /// <summary>Top-level members left out of the output (<see cref="TryCanonicalizeWithout"/>), or null.</summary>
        public string[]? Omitted { get; init; }

        /// <summary>Whether a number the double cannot hold exactly is refused rather than rounded (see <see cref="TryCanonicalize(ReadOnlySpan{byte}, IBufferWriter{byte}, bool, out string?)"/>).</summary>
        public bool ExactNumbers { get; init; }

        public State(int inputLength)
        {
            _bytes = ArrayPool<byte>.Shared.Rent(Math.Max(256, inputLength + inputLength / 4));
            _chars = ArrayPool<char>.Shared.Rent(256);
            _members = ArrayPool<Member>.Shared.Rent(32);
            _byteCount = _charCount = _memberCount = 0;
        }

        public readonly ReadOnlySpan<byte> Written => _bytes.AsSpan(0, _byteCount);

        public void Dispose()
        {
            ArrayPool<byte>.Shared.Return(_bytes);
            ArrayPool<char>.Shared.Return(_chars);
            ArrayPool<Member>.Shared.Return(_members);
            _bytes = null!;
            _chars = null!;
            _members = null!;
        }

        public bool Run(ReadOnlySpan<byte> utf8Json, out string? error)
        {
            try
            {
                var reader = new Utf8JsonReader(utf8Json, isFinalBlock: true, state: default);
                if (!reader.Read())
                {
                    error = "The input holds no JSON value.";
                    return false;
                }
                if (!WriteValue(ref reader, out error)) return false;
                if (reader.Read())
                {
                    error = "Something follows the JSON value.";
                    return false;
                }
                return true;
            }
            catch (JsonException e)
            {
                error = "Invalid JSON: " + e.Message;
                return false;
            }
        }

        private bool WriteValue(ref Utf8JsonReader reader, out string? error)
        {
            error = null;
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    return WriteObject(ref reader, out error);
                case JsonTokenType.StartArray:
                    return WriteArray(ref reader, out error);
                case JsonTokenType.String:
                    return WriteStringValue(ref reader, out error);
                case JsonTokenType.Number:
                    return WriteNumber(reader.ValueSpan, out error);
                case JsonTokenType.True:
                    Append("true"u8);
                    return true;
                case JsonTokenType.False:
                    Append("false"u8);
                    return true;
                case JsonTokenType.Null:
                    Append("null"u8);
                    return true;
                default:
                    error = $"Unexpected JSON token {reader.TokenType}.";
                    return false;
            }
        }

        private bool WriteArray(ref Utf8JsonReader reader, out string? error)
        {
            error = null;
            AppendByte((byte)'[');
            var first = true;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (!first) AppendByte((byte)',');
                first = false;
                if (!WriteValue(ref reader, out error)) return false;
            }
            AppendByte((byte)']');
            return true;
        }

        private bool WriteObject(ref Utf8JsonReader reader, out string? error)
        {
            _depth++;
            try
            {
                return WriteObjectMembers(ref reader, out error);
            }
            finally
            {
                _depth--;
            }
        }

        private readonly bool IsOmitted(ReadOnlySpan<char> name)
        {
            if (Omitted is null || _depth != 1) return false;
            foreach (var omitted in Omitted)
                if (name.SequenceEqual(omitted)) return true;
            return false;
        }

        private bool WriteObjectMembers(ref Utf8JsonReader reader, out string? error)
        {
            var byteMark = _byteCount;
            var charMark = _charCount;
            var memberMark = _memberCount;

            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                if (!AppendUnescaped(reader.ValueSpan, reader.ValueIsEscaped, out var nameStart, out var nameLength, out error)) return false;
                if (_memberCount == _members.Length) Grow(ref _members, _memberCount + 1, _memberCount);
                var index = _memberCount++;
                _members[index] = new Member { NameStart = nameStart, NameLength = nameLength, ValueStart = _byteCount };
                if (!reader.Read() || !WriteValue(ref reader, out error)) { error ??= "Truncated object."; return false; }
                _members[index].ValueLength = _byteCount - _members[index].ValueStart;
            }

            var members = _members.AsSpan(memberMark, _memberCount - memberMark);
            Sort(members, new NameOrder(_chars));
            for (var i = 1; i < members.Length; i++)
            {
                var name = _chars.AsSpan(members[i].NameStart, members[i].NameLength);
                if (name.SequenceEqual(_chars.AsSpan(members[i - 1].NameStart, members[i - 1].NameLength)))
                {
                    error = $"Duplicate member name \"{name.ToString()}\".";
                    return false;
                }
            }

            // Write the sorted object after the values, then move it down over them.
            var objectStart = _byteCount;
            AppendByte((byte)'{');
            var written = 0;
            for (var i = 0; i < members.Length; i++)
            {
                if (IsOmitted(_chars.AsSpan(members[i].NameStart, members[i].NameLength))) continue;
                if (written++ > 0) AppendByte((byte)',');
                WriteString(_chars.AsSpan(members[i].NameStart, members[i].NameLength));
                AppendByte((byte)':');
                Reserve(members[i].ValueLength);
                _bytes.AsSpan(members[i].ValueStart, members[i].ValueLength).CopyTo(_bytes.AsSpan(_byteCount));
                _byteCount += members[i].ValueLength;
            }
            AppendByte((byte)'}');
            var objectLength = _byteCount - objectStart;
            _bytes.AsSpan(objectStart, objectLength).CopyTo(_bytes.AsSpan(byteMark));
            _byteCount = byteMark + objectLength;
            _charCount = charMark;
            _memberCount = memberMark;
            error = null;
            return true;
        }

        private bool WriteStringValue(ref Utf8JsonReader reader, out string? error)
        {
            var raw = reader.ValueSpan;
            if (!reader.ValueIsEscaped)
            {
                // The reader lets no quote, backslash or control character through unescaped: valid UTF-8 is already canonical.
                if (!Utf8.IsValid(raw))
                {
                    error = "A string is not valid UTF-8.";
                    return false;
                }
                Reserve(raw.Length + 2);
                _bytes[_byteCount++] = (byte)'"';
                raw.CopyTo(_bytes.AsSpan(_byteCount));
                _byteCount += raw.Length;
                _bytes[_byteCount++] = (byte)'"';
                error = null;
                return true;
            }
            var charMark = _charCount;
            if (!AppendUnescaped(raw, escaped: true, out var start, out var length, out error)) return false;
            WriteString(_chars.AsSpan(start, length));
            _charCount = charMark;
            return true;
        }

        private bool WriteNumber(ReadOnlySpan<byte> raw, out string? error)
        {
            if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            {
                error = $"The number {System.Text.Encoding.UTF8.GetString(raw)} is not a finite IEEE-754 double.";
                return false;
            }
            Reserve(MaxNumberLength);
            var written = FormatNumber(value, _bytes.AsSpan(_byteCount));
            // A number the double cannot hold exactly (an int beyond 2^53, a decimal with more digits than a double
            // keeps) would be signed as another value than the one a decoder reads: 0.50000000000000005 canonicalizes as
            // 0.5. Such a number has no canonical form of its own, so it is refused rather than silently changed.
            if (ExactNumbers && decimal.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var exact)
                && decimal.TryParse(_bytes.AsSpan(_byteCount, written), NumberStyles.Float, CultureInfo.InvariantCulture, out var canonical)
                && exact != canonical)
            {
                error = $"The number {System.Text.Encoding.UTF8.GetString(raw)} has no exact IEEE-754 double form; it would be read as {System.Text.Encoding.UTF8.GetString(_bytes.AsSpan(_byteCount, written))}.";
                return false;
            }
            _byteCount += written;
            error = null;
            return true;
        }

        /// <summary>Writes a string, quoted and escaped per RFC 8785 §3.2.2.2; it holds no lone surrogate.</summary>
        private void WriteString(ReadOnlySpan<char> text)
        {
            Reserve(MaxStringLength(text.Length));
            _byteCount += FormatString(text, _bytes.AsSpan(_byteCount));
        }

        /// <summary>Unescapes a raw string token onto the char arena, refusing invalid UTF-8 and lone surrogates.</summary>
        private bool AppendUnescaped(ReadOnlySpan<byte> raw, bool escaped, out int start, out int length, out string? error)
        {
            start = _charCount;
            length = 0;
            // Never more UTF-16 code units than UTF-8 bytes, escaped or not.
            if (_chars.Length - _charCount < raw.Length) Grow(ref _chars, _charCount + raw.Length, _charCount);
            var destination = _chars.AsSpan(_charCount, raw.Length);
            var w = 0;
            while (true)
            {
                var backslash = escaped ? raw.IndexOf((byte)'\\') : -1;
                var run = backslash < 0 ? raw : raw[..backslash];
                if (Utf8.ToUtf16(run, destination[w..], out _, out var written, replaceInvalidSequences: false) != OperationStatus.Done)
                {
                    error = "A string is not valid UTF-8.";
                    return false;
                }
                w += written;
                if (backslash < 0) break;
                raw = raw[backslash..];
                if (raw.Length < 2) { error = "A string ends in a backslash."; return false; }
                switch (raw[1])
                {
                    case (byte)'"': destination[w++] = '"'; raw = raw[2..]; break;
                    case (byte)'\\': destination[w++] = '\\'; raw = raw[2..]; break;
                    case (byte)'/': destination[w++] = '/'; raw = raw[2..]; break;
                    case (byte)'b': destination[w++] = '\b'; raw = raw[2..]; break;
                    case (byte)'f': destination[w++] = '\f'; raw = raw[2..]; break;
                    case (byte)'n': destination[w++] = '\n'; raw = raw[2..]; break;
                    case (byte)'r': destination[w++] = '\r'; raw = raw[2..]; break;
                    case (byte)'t': destination[w++] = '\t'; raw = raw[2..]; break;
                    case (byte)'u':
                        var code = raw.Length >= 6 ? HexQuad(raw.Slice(2, 4)) : -1;
                        if (code < 0) { error = "A string has an invalid \\u escape."; return false; }
                        destination[w++] = (char)code;
                        raw = raw[6..];
                        break;
                    default:
                        error = "A string has an invalid escape.";
                        return false;
                }
            }

            if (escaped)
            {
                // Escapes may spell surrogates; valid UTF-8 cannot, so only escaped strings need this check.
                var text = destination[..w];
                for (var i = 0; i < text.Length; i++)
                {
                    if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
                    else if (char.IsSurrogate(text[i]))
                    {
                        error = $"A string holds a lone surrogate \\u{(int)text[i]:x4}.";
                        return false;
                    }
                }
            }

            _charCount += w;
            length = w;
            error = null;
            return true;
        }

        private static int HexQuad(ReadOnlySpan<byte> hex)
        {
            var value = 0;
            for (var i = 0; i < 4; i++)
            {
                var c = hex[i];
                int digit = c switch
                {
                    >= (byte)'0' and <= (byte)'9' => c - '0',
                    >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
                    >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
                    _ => -1,
                };
                if (digit < 0) return -1;
                value = value << 4 | digit;
            }
            return value;
        }

        private void AppendByte(byte value)
        {
            Reserve(1);
            _bytes[_byteCount++] = value;
        }

        private void Append(ReadOnlySpan<byte> value)
        {
            Reserve(value.Length);
            value.CopyTo(_bytes.AsSpan(_byteCount));
            _byteCount += value.Length;
        }

        private void Reserve(int count)
        {
            if (_bytes.Length - _byteCount < count) Grow(ref _bytes, _byteCount + count, _byteCount);
        }

        private static void Grow<T>(ref T[] array, int needed, int used)
        {
            var larger = ArrayPool<T>.Shared.Rent(Math.Max(needed, array.Length * 2));
            array.AsSpan(0, used).CopyTo(larger);
            ArrayPool<T>.Shared.Return(array);
            array = larger;
        }

        /// <summary>Sorts members by name: insertion sort for the usual handful, the BCL's introsort beyond.</summary>
        private static void Sort(Span<Member> members, NameOrder order)
        {
            if (members.Length > 16)
            {
                members.Sort(order);
                return;
            }
            for (var i = 1; i < members.Length; i++)
            {
                var current = members[i];
                var j = i - 1;
                while (j >= 0 && order.Compare(members[j], current) > 0)
                {
                    members[j + 1] = members[j];
                    j--;
                }
                members[j + 1] = current;
            }
        }
    }
}
