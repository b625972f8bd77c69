using System.Text.Json.Serialization;
using Xent.Training.Checkpoints;
using Xent.Training.Runs;

namespace Xent.Training;

/// <summary>
/// The JSON of the run files (config.json, metrics.jsonl, the run folder's lock), compiled by System.Text.Json's
/// source generator rather than found by reflection, so that an app published with native AOT or trimming can train
/// and write checkpoints. The same text as the reflection-based serializer writes.
/// </summary>
[JsonSerializable(typeof(CheckpointConfig))]
[JsonSerializable(typeof(MetricRecord))]
[JsonSerializable(typeof(RunOwner))]
internal sealed partial class TrainingJson : JsonSerializerContext;

/// <summary><see cref="TrainingJson"/> indented: config.json, which people read.</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(CheckpointConfig))]
internal sealed partial class TrainingJsonIndented : JsonSerializerContext;
