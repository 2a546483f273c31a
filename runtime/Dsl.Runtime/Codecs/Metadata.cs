using System;
using System.Buffers;
using System.Collections;
using System.Collections.Generic;
using System.Text.Json;

namespace Dsl.Runtime.Codecs;

/// <summary>
/// A free-form JSON object carried by a message (the spec's <c>map</c> type), kept as parsed JSON so
/// that any value round-trips. Build one with <see cref="Create"/>; read it as a dictionary.
/// </summary>
public sealed class Metadata : IReadOnlyDictionary<string, JsonElement>
{
    private readonly JsonElement _object;
    private Dictionary<string, JsonElement>? _index;

    /// <summary>An empty object.</summary>
    public static Metadata Empty { get; } = Create();

    /// <summary>Wraps a parsed JSON object.</summary>
    public Metadata(JsonElement jsonObject)
    {
        if (jsonObject.ValueKind != JsonValueKind.Object)
            throw new ArgumentException("Metadata must be a JSON object.", nameof(jsonObject));
        _object = jsonObject;
    }

    /// <summary>
    /// Builds metadata from name/value pairs whose values are strings, integers, floating-point numbers,
    /// booleans or <see langword="null"/>.
    /// </summary>
    public static Metadata Create(params (string Name, object? Value)[] entries)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in entries)
            {
                switch (value)
                {
                    case null: writer.WriteNull(name); break;
                    case string s: writer.WriteString(name, s); break;
                    case bool b: writer.WriteBoolean(name, b); break;
                    case int i: writer.WriteNumber(name, i); break;
                    case long l: writer.WriteNumber(name, l); break;
                    case double d: writer.WriteNumber(name, d); break;
                    default: throw new ArgumentException($"Metadata value '{name}' has unsupported type {value.GetType().Name}.", nameof(entries));
                }
            }
            writer.WriteEndObject();
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return new Metadata(document.RootElement.Clone());
    }

    /// <summary>Writes the object as the value of the current property or array slot.</summary>
    public void WriteTo(Utf8JsonWriter writer) => _object.WriteTo(writer);

    private Dictionary<string, JsonElement> Index
    {
        get
        {
            if (_index is null)
            {
                var index = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                foreach (var property in _object.EnumerateObject()) index[property.Name] = property.Value;
                _index = index;
            }
            return _index;
        }
    }

    /// <inheritdoc />
    public JsonElement this[string key] => Index[key];
    /// <inheritdoc />
    public IEnumerable<string> Keys => Index.Keys;
    /// <inheritdoc />
    public IEnumerable<JsonElement> Values => Index.Values;
    /// <inheritdoc />
    public int Count => Index.Count;
    /// <inheritdoc />
    public bool ContainsKey(string key) => Index.ContainsKey(key);
    /// <inheritdoc />
    public bool TryGetValue(string key, out JsonElement value) => Index.TryGetValue(key, out value);
    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, JsonElement>> GetEnumerator() => Index.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public override string ToString() => _object.GetRawText();
}
