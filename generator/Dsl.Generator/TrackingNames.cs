namespace Dsl.Generator;

/// <summary>Names of the pipeline's tracked steps, for caching tests.</summary>
internal static class TrackingNames
{
    public const string Read = nameof(Read);
    public const string Bases = nameof(Bases);
    public const string Parse = nameof(Parse);
    public const string Bind = nameof(Bind);
    public const string Diagnostics = nameof(Diagnostics);
    public const string Project = nameof(Project);
    public const string Identities = nameof(Identities);
}
