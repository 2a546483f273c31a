using System;
using System.Text.RegularExpressions;

namespace Dsl.Runtime.Codecs;

/// <summary>The <c>pattern</c> constraint: a regular expression that must match the whole value.</summary>
public static class Patterns
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMilliseconds(100);

    /// <summary>Compiles a spec's pattern, anchored at both ends, with a match timeout against hostile input.</summary>
    public static Regex Create(string pattern)
        => new("^(?:" + pattern + ")$", RegexOptions.CultureInvariant, s_timeout);

    /// <summary>Whether the whole value matches; a match that times out does not.</summary>
    public static bool IsMatch(Regex regex, string value)
    {
        try
        {
            return regex.IsMatch(value);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }
}
