using System;
using System.Threading;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Model;

namespace Dsl.Generator;

/// <summary>
/// Runs one stage of the generator on one spec so that no exception escapes it: a bug in the generator becomes
/// DSL999 on that spec, naming the stage and the exception, and the other specs still generate.
/// </summary>
internal static class Stages
{
    /// <summary>For tests: a stage name and a file path at which to throw, to show a crash is contained.</summary>
    internal static (string Stage, string Path)? InjectedFault { get; set; }

    public static T Run<T>(string stage, string filePath, CancellationToken cancellationToken, Func<T> run, Func<SpecDiagnostic, T> failed)
    {
        try
        {
            if (InjectedFault is { } fault && fault.Stage == stage && filePath.EndsWith(fault.Path, StringComparison.Ordinal))
                throw new InvalidOperationException("fault injected by a test");
            return run();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            return failed(Crash(stage, filePath, ex));
        }
    }

    public static SpecDiagnostic Crash(string stage, string filePath, Exception ex)
        => SpecDiagnostic.Create(DiagnosticTable.GeneratorFailure, filePath, new SourceSpan(1, 1, 0, 0), stage, ex.GetType().Name + ": " + ex.Message);
}
