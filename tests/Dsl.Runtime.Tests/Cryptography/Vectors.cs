using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;

namespace Dsl.Runtime.Tests.Cryptography;

/// <summary>Reads the published test vectors in place, from <c>../shared/vectors</c> beside the repository.</summary>
internal static class Vectors
{
    public static string Root
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Dsl.sln")))
                directory = directory.Parent;
            if (directory is null) throw new InvalidOperationException("Dsl.sln not found above " + AppContext.BaseDirectory);
            var root = Path.GetFullPath(Path.Combine(directory.FullName, "..", "shared", "vectors"));
            if (!Directory.Exists(root)) throw new InvalidOperationException($"The test vectors are expected at {root} (../shared/vectors beside the repository).");
            return root;
        }
    }

    public static JsonElement Load(string relativePath)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, relativePath)));
        return document.RootElement.Clone();
    }

    /// <summary>Every test of a Wycheproof file, with its group.</summary>
    public static IEnumerable<(JsonElement Group, JsonElement Test)> Wycheproof(string file)
    {
        foreach (var group in Load(Path.Combine("wycheproof", file)).GetProperty("testGroups").EnumerateArray())
        foreach (var test in group.GetProperty("tests").EnumerateArray())
            yield return (group, test);
    }

    public static byte[] Hex(this JsonElement element, string property) => Convert.FromHexString(element.GetProperty(property).GetString()!);

    public static bool HasFlag(this JsonElement test, string flag)
    {
        foreach (var f in test.GetProperty("flags").EnumerateArray())
            if (f.GetString() == flag) return true;
        return false;
    }
}

/// <summary>Counts of a known-answer run, by the vectors' labels.</summary>
internal sealed class Tally
{
    private readonly SortedDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly List<string> _failures = new();

    public void Pass(string label) => _counts[label] = _counts.GetValueOrDefault(label) + 1;

    public void Fail(string description) => _failures.Add(description);

    public IReadOnlyList<string> Failures => _failures;

    public int Total { get { var n = 0; foreach (var c in _counts.Values) n += c; return n + _failures.Count; } }

    public string Summary(string name)
        => $"{name}: {Total} cases, {Total - _failures.Count} as labelled ({string.Join(", ", Pairs())}), {_failures.Count} not";

    private IEnumerable<string> Pairs()
    {
        foreach (var (label, count) in _counts) yield return $"{count} {label}";
    }
}
