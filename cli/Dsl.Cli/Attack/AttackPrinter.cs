using System;
using System.Globalization;
using System.Linq;

namespace Dsl.Cli.Attack;

/// <summary>Prints an <see cref="AttackReport"/>: counts per class and kind, the checks' coverage, and each violation with the command that reproduces it.</summary>
internal static class AttackPrinter
{
    /// <summary>Prints the report; true when it holds a violation.</summary>
    public static bool Print(AttackReport report, string spec, AttackSettings settings, Action<string?, string?> line)
    {
        static string N(int n) => n.ToString("N0", CultureInfo.InvariantCulture);
        line($"  {"class",-10} {"kind",-52} {"cases",8} {"refused",8} {"accepted",9} {"violations",11}", null);
        var notRun = report.Results.Count(r => r.NotRun);
        foreach (var group in report.Results.Where(r => !r.NotRun).GroupBy(r => (r.Case.Class, r.Case.Kind)).OrderBy(g => g.Key.Class).ThenBy(g => g.Key.Kind, StringComparer.Ordinal))
        {
            var bad = group.Count(r => r.Violations.Count > 0);
            line($"  {group.Key.Class.ToString().ToLowerInvariant(),-10} {group.Key.Kind,-52} {N(group.Count()),8} {N(group.Count(r => r.VictimCode is not null)),8} {N(group.Count(r => r.VictimCode is null)),9} {N(bad),11}",
                bad > 0 ? "red" : null);
        }
        var violations = report.Results.Where(r => r.Violations.Count > 0).ToList();
        var ran = report.Results.Where(r => !r.NotRun).ToList();
        line($"  {"all",-10} {"",-52} {N(ran.Count),8} {N(ran.Count(r => r.VictimCode is not null)),8} {N(ran.Count(r => r.VictimCode is null)),9} {N(violations.Count),11}",
            violations.Count > 0 ? "red" : "green");
        var sampled = report.Results.Count(r => r.Case.Class != AttackClass.Check);
        if (settings.Sample is not null && settings.Case is null && sampled < report.Available)
            line($"  A sample of {N(sampled)} of the {N(report.Available)} mutation, order and bytes cases (seed {settings.Seed}); without --cases, all of them.", "grey");
        if (notRun > 0) line($"  {N(notRun)} case(s) not run: they give a role inputs its own constraints refuse.", "grey");
        if (settings.Case is null)
        {
            line($"  Checks exercised by a misbehaving peer: {report.Exercised.Count} of {report.Checks.Count}.", report.Exercised.Count == report.Checks.Count ? "green" : "yellow");
            foreach (var (check, why) in report.Unreached.OrderBy(u => u.Key.Line))
                line($"    not reached: {check}: {why}", "yellow");
        }
        foreach (var result in violations.Take(50))
        {
            line($"  VIOLATION {result.Case.Id}: {result.Case.Description}; {result.Ending}", "red");
            foreach (var violation in result.Violations) line($"    {violation}", "red");
            line($"    reproduce: dsl attack {spec} --seed {settings.Seed} --case '{result.Case.Id}'", null);
        }
        if (violations.Count > 50) line($"  … and {violations.Count - 50} more violations.", "red");
        return violations.Count > 0;
    }
}
