using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;

namespace Dsl.Cli;

/// <summary>The spec files a command works on: those named (files, or folders searched for .yaml and .yml), and the bases they extend.</summary>
internal static class SpecFiles
{
    private static readonly Regex s_extends = new(@"^extends:\s*(?<path>[^#\s][^#]*?)\s*(#.*)?$", RegexOptions.Multiline | RegexOptions.CultureInvariant);

    /// <summary>The named specs, in order, then every base they extend that was not named; <paramref name="missing"/> gets paths that do not exist.</summary>
    public static (IReadOnlyList<string> Named, IReadOnlyList<string> All) Find(IEnumerable<string> paths, List<string> missing)
    {
        var named = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
                named.AddRange(Directory.EnumerateFiles(path, "*.*", SearchOption.AllDirectories)
                    .Where(IsSpec)
                    .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj" or "vectors"))
                    .OrderBy(f => f, StringComparer.Ordinal));
            else if (File.Exists(path)) named.Add(path);
            else missing.Add(path);
        }
        named = named.Select(Path.GetFullPath).Distinct().ToList();
        var all = new List<string>(named);
        for (var i = 0; i < all.Count; i++)
        {
            // A spec that extends another needs it: add the base, as the generator would find it in a project.
            var match = s_extends.Match(File.ReadAllText(all[i]));
            if (!match.Success) continue;
            var target = match.Groups["path"].Value.Trim().Trim('"', '\'');
            var @base = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(all[i])!, target));
            if (File.Exists(@base) && !all.Contains(@base)) all.Add(@base);
        }
        return (named, all);
    }

    public static bool IsSpec(string path)
        => path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase);

    /// <summary>A path as the user would read it: relative to the current folder when it is under it.</summary>
    public static string Display(string path)
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }
}
