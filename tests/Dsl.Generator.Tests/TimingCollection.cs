using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// Tests whose claim involves a timeout (a hook or a proof of work that outlives its step): they run alone, not beside
/// the random-spec property test, whose compilations can starve the thread pool for seconds on a 2-core machine and
/// make a peer's message, not the work under test, miss the step timeout.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "Timing";
}
