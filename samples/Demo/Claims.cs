using System.IO;

namespace Dsl.Samples.Demo;

/// <summary>How the demo states what it expected, and whether it held.</summary>
public static class Claims
{
    /// <summary>Prints ✓ or ✗ before <paramref name="claim"/> and returns whether it held.</summary>
    public static bool Expect(TextWriter output, bool condition, string claim)
    {
        lock (output) output.WriteLine(condition ? $"   ✓ {claim}" : $"   ✗ expected: {claim}");
        return condition;
    }
}
